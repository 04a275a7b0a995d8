import { describe, expect, it } from 'vitest';
import { type KeyContext, vaultKeyAad } from '../../src/core/ports.js';
import { LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { VaultTransitKeyProvider } from '../../src/keys/vault-transit-provider.js';

// Every stored wrapped key was made under these bytes: if this file has to change, existing
// vault keys no longer unwrap.

const ctx: KeyContext = {
  tenantId: '01890000-0000-7000-8000-000000000001',
  vaultId: '01890000-0000-7000-8000-000000000002',
  vaultKeyVersion: 3,
};

/** UTF-8 of `credreg/vault-key/v1` NUL tenant NUL vault NUL `3`, spelled out byte by byte. */
const PINNED_HEX =
  '637265647265672f7661756c742d6b65792f7631' + // credreg/vault-key/v1
  '00' +
  '30313839303030302d303030302d373030302d383030302d303030303030303030303031' + // tenant id
  '00' +
  '30313839303030302d303030302d373030302d383030302d303030303030303030303032' + // vault id
  '00' +
  '33'; // version 3, decimal

/**
 * A vault key (32 bytes of 0x5a) wrapped under `ctx` by the local provider with root key 32 bytes
 * of 0x07, before the format moved to `vaultKeyAad`: nonce ‖ ciphertext ‖ tag.
 */
const LOCAL_WRAPPED_HEX =
  'f9f7d917c56ea7a973f07c7b00caab1b31ddcab771e777617e9e6364ef3fa1bd667e6767b9990cbc14ed77b11a9d0a111d21520fbc33c555f141c776';

describe('the vault-key AAD', () => {
  it('is the pinned bytes: label, tenant, vault and version separated by NUL, no trailing NUL', () => {
    expect(vaultKeyAad(ctx).toString('hex')).toBe(PINNED_HEX);
  });

  it('writes the version in decimal', () => {
    expect(vaultKeyAad({ ...ctx, vaultKeyVersion: 12 }).toString('hex')).toBe(
      `${PINNED_HEX.slice(0, -2)}3132`,
    );
  });

  it('still unwraps a key the local provider wrapped before', async () => {
    const provider = new LocalKeyProvider(Buffer.alloc(32, 7));
    const wrapped = {
      provider: 'local',
      providerKeyId: provider.keyId,
      ciphertext: Buffer.from(LOCAL_WRAPPED_HEX, 'hex'),
    };
    expect(provider.keyId).toBe('local:6d9908b022018903');
    expect(Buffer.from(await provider.unwrapKey(wrapped, ctx)).equals(Buffer.alloc(32, 0x5a))).toBe(true);
  });

  it('is what Vault Transit is sent, base64, as associated_data', async () => {
    const bodies: Record<string, string>[] = [];
    const provider = new VaultTransitKeyProvider({
      addr: 'http://127.0.0.1:1',
      token: 'test-token',
      key: 'credreg',
      fetch: async (_url, init) => {
        bodies.push(JSON.parse(String(init?.body)));
        return Response.json({ data: { ciphertext: 'vault:v1:AAAA', plaintext: 'AAAA' } });
      },
    });
    const wrapped = await provider.wrapKey(Buffer.alloc(32), ctx);
    await provider.unwrapKey(wrapped, ctx);
    const sent = bodies.map((b) => Buffer.from(b.associated_data!, 'base64').toString('hex'));
    expect(sent).toEqual([PINNED_HEX, PINNED_HEX]);
  });
});
