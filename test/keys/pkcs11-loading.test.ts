/** `pkcs11js` is an optional dependency: its absence fails only the PKCS#11 provider, and says what to do. */
import { describe, expect, it } from 'vitest';
import { loadPkcs11js } from '../../src/keys/pkcs11-provider.js';

describe('loading the optional pkcs11js package', () => {
  it('a missing pkcs11js is a CONFIG error that says to install it or choose another provider', () => {
    const missing = (id: string) => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadPkcs11js(missing)).toThrow(
      expect.objectContaining({
        code: 'CONFIG',
        message: expect.stringMatching(
          /needs the optional package pkcs11js.*npm install pkcs11js.*another CREDREG_KEY_PROVIDER/,
        ),
      }),
    );
  });

  it('a pkcs11js that is there but will not load says to rebuild it', () => {
    const broken = () => {
      throw new Error('NODE_MODULE_VERSION 115 vs 127');
    };
    expect(() => loadPkcs11js(broken)).toThrow(/could not be loaded .*npm rebuild pkcs11js/);
  });

  it('an installed pkcs11js loads', () => {
    expect(typeof loadPkcs11js().PKCS11).toBe('function');
  });
});
