import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';
import { vaultKeyAad } from '../core/ports.js';

export interface Pkcs11Options {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  module: string;
  tokenLabel: string;
  pin: string;
  /** Label of the AES-256 key on the token; created (non-extractable) when missing. */
  keyLabel: string;
  /**
   * Whether a missing key may be created. (Default: true) A retired provider must find its key: a
   * new one would unwrap nothing.
   */
  createMissingKey?: boolean;
}

/**
 * `pkcs11js`, a native module and an optional dependency: loaded when a PKCS#11 provider is opened,
 * so a host where it could not be built runs every other provider.
 */
let pkcs11js!: typeof Pkcs11js;

/**
 * Loads `pkcs11js` with `load` (Default: this module's `require`), or says what to install.
 *
 * @example
 * const pkcs11 = loadPkcs11js(); // RegistryError CONFIG when the package is not installed
 */
export function loadPkcs11js(
  load: (id: string) => unknown = createRequire(import.meta.url),
): typeof Pkcs11js {
  try {
    return load('pkcs11js') as typeof Pkcs11js;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new RegistryError(
      'CONFIG',
      missing
        ? 'CREDREG_KEY_PROVIDER=pkcs11 needs the optional package pkcs11js, which is not installed (npm skips it where its native module cannot be built): install it with `npm install pkcs11js` (it needs python3, make and a C++ compiler), or choose another CREDREG_KEY_PROVIDER'
        : 'the optional package pkcs11js is installed but could not be loaded (a native module built for another Node.js version? run `npm rebuild pkcs11js`)',
      { cause: err },
    );
  }
}

const NONCE = 12;
const TAG_BITS = 128;

/**
 * Vault keys wrapped inside an HSM through PKCS#11: AES-256-GCM with a key that never leaves the
 * token (sensitive, non-extractable). The module is initialised with CKF_OS_LOCKING_OK (without it
 * SoftHSM crashes under parallel calls) and logged in once per process. Calls are synchronous and
 * block the event loop, so they run only on a vault-key cache miss, never on a warm reveal.
 */
export class Pkcs11KeyProvider implements RootKeyProvider {
  readonly name = 'pkcs11';
  readonly keyId: string;
  #lib: Pkcs11js.PKCS11 | null;
  readonly #session: Buffer;
  readonly #key: Buffer;

  readonly #ownsInitialisation: boolean;

  private constructor(lib: Pkcs11js.PKCS11, session: Buffer, key: Buffer, keyId: string, ownsInit: boolean) {
    this.#lib = lib;
    this.#session = session;
    this.#key = key;
    this.keyId = keyId;
    this.#ownsInitialisation = ownsInit;
  }

  /** Opens the token, logs in, and finds (or creates) the key. */
  static open(o: Pkcs11Options): Pkcs11KeyProvider {
    pkcs11js ??= loadPkcs11js();
    const lib = new pkcs11js.PKCS11();
    let initialised = false;
    try {
      lib.load(o.module);
      initialised = initialise(lib);
    } catch (err) {
      throw new RegistryError('CONFIG', `the PKCS#11 module ${o.module} could not be loaded`, { cause: err });
    }
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === o.tokenLabel);
      if (!slot) throw new RegistryError('CONFIG', `no PKCS#11 token is labelled ${o.tokenLabel}`);
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, o.pin);
      } catch (err) {
        // A login is per token and process: another session here may hold it already.
        if ((err as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
          throw new RegistryError(
            'CONFIG',
            `logging in to PKCS#11 token ${o.tokenLabel} failed; check the PIN`,
            {
              cause: err,
            },
          );
        }
      }
      let key = findKey(lib, session, o.keyLabel);
      if (!key && o.createMissingKey === false) {
        throw new RegistryError(
          'CONFIG',
          `no key is labelled ${o.keyLabel} on PKCS#11 token ${o.tokenLabel}`,
        );
      }
      key ??= createKey(lib, session, o.keyLabel);
      return new Pkcs11KeyProvider(lib, session, key, `pkcs11:${o.tokenLabel}/${o.keyLabel}`, initialised);
    } catch (err) {
      if (initialised) lib.C_Finalize();
      throw err;
    }
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return wrapped.provider === this.name && wrapped.providerKeyId === this.keyId;
  }

  async currentKeyTest(): Promise<CurrentRootKeyTest> {
    return (wrapped) => this.canUnwrap(wrapped);
  }

  async wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    const lib = this.#open();
    const iv = randomBytes(NONCE);
    try {
      lib.C_EncryptInit(this.#session, this.#mechanism(iv, context), this.#key);
      const out = lib.C_Encrypt(
        this.#session,
        Buffer.from(plaintextKey),
        Buffer.alloc(plaintextKey.length + 16),
      );
      return { provider: this.name, ciphertext: Buffer.concat([iv, out]), providerKeyId: this.keyId };
    } catch (err) {
      throw hsmError(err, 'wrap');
    }
  }

  async unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    /* Precondition: the key was wrapped by this token's key. */
    if (wrapped.providerKeyId !== this.keyId) {
      throw new RegistryError(
        'CRYPTO',
        `this vault key was wrapped by ${wrapped.providerKeyId}, but the configured root key is ${this.keyId}`,
      );
    }
    const lib = this.#open();
    const blob = Buffer.from(wrapped.ciphertext);
    if (blob.length <= NONCE + 16) throw new RegistryError('CRYPTO', 'a wrapped vault key is truncated');
    try {
      lib.C_DecryptInit(this.#session, this.#mechanism(blob.subarray(0, NONCE), context), this.#key);
      return Buffer.from(lib.C_Decrypt(this.#session, blob.subarray(NONCE), Buffer.alloc(blob.length)));
    } catch (err) {
      throw new RegistryError('CRYPTO', 'a wrapped vault key failed authentication in the HSM', {
        cause: err,
      });
    }
  }

  /** Logs out and unloads the module; the provider is unusable afterwards. */
  close(): void {
    const lib = this.#lib;
    this.#lib = null;
    if (!lib) return;
    try {
      try {
        lib.C_Logout(this.#session);
      } catch (err) {
        // A login is per token and process: another provider here may have logged out already.
        if ((err as { code?: number }).code !== pkcs11js.CKR_USER_NOT_LOGGED_IN) throw err;
      }
      lib.C_CloseSession(this.#session);
    } finally {
      if (this.#ownsInitialisation) lib.C_Finalize();
    }
  }

  #open(): Pkcs11js.PKCS11 {
    if (!this.#lib) throw new RegistryError('UNAVAILABLE', 'the PKCS#11 session is closed');
    return this.#lib;
  }

  #mechanism(iv: Buffer, context: KeyContext): Pkcs11js.Mechanism {
    const parameter: Pkcs11js.AesGCM = {
      type: pkcs11js.CK_PARAMS_AES_GCM,
      iv,
      aad: vaultKeyAad(context),
      ivBits: NONCE * 8,
      tagBits: TAG_BITS,
    };
    return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
  }
}

/** Return codes that mean the HSM or the session is gone (retry after reconnecting), not a refusal. */
const unreachable = () => [
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_DEVICE_MEMORY,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
];

function hsmError(err: unknown, op: 'wrap' | 'unwrap'): RegistryError {
  const code = (err as { code?: number }).code;
  return code !== undefined && unreachable().includes(code)
    ? new RegistryError(
        'UNAVAILABLE',
        `the HSM could not ${op} a key (device or session unavailable); retry`,
        { cause: err },
      )
    : new RegistryError(
        'CRYPTO',
        `the HSM refused to ${op} a key: it was altered, or belongs to another vault or key`,
        {
          cause: err,
        },
      );
}

/**
 * Initialises the module with OS locking. A module is initialised once per process: if another
 * user in this process did it already, share it (and leave finalising to them).
 */
function initialise(lib: Pkcs11js.PKCS11): boolean {
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) return false;
    throw err;
  }
}

function findKey(lib: Pkcs11js.PKCS11, session: Buffer, label: string): Buffer | null {
  lib.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  try {
    return lib.C_FindObjects(session) ?? null;
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function createKey(lib: Pkcs11js.PKCS11, session: Buffer, label: string): Buffer {
  return lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
  ]);
}
