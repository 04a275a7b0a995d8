import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, Logger, RootKeyProvider, WrappedKey } from '../core/ports.js';
import { vaultKeyAad } from '../core/ports.js';

const KEY_BYTES = 32;

/**
 * A root key held in this process's memory, from `CREDREG_ROOT_KEY` or a key file. Fine for
 * development and for deployments whose secret store already protects the environment; a KMS or
 * HSM provider keeps the root key out of the process entirely.
 */
export class LocalKeyProvider implements RootKeyProvider {
  readonly name = 'local';
  /** Public, stable name of this key: a hash prefix, which reveals nothing of the key. */
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    /* Precondition: the root key is exactly 256 bits. */
    if (key.length !== KEY_BYTES) {
      throw new RegistryError(
        'CONFIG',
        `the local root key must be ${KEY_BYTES} bytes (base64 of 32 random bytes)`,
      );
    }
    this.#key = Buffer.from(key);
    this.keyId = `local:${createHash('sha256').update('credreg-root-key-id\0').update(this.#key).digest('hex').slice(0, 16)}`;
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return wrapped.provider === this.name && wrapped.providerKeyId === this.keyId;
  }

  async currentKeyTest(): Promise<CurrentRootKeyTest> {
    return (wrapped) => this.canUnwrap(wrapped);
  }

  async wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(vaultKeyAad(context));
    const ct = Buffer.concat([cipher.update(plaintextKey), cipher.final()]);
    return {
      provider: this.name,
      ciphertext: Buffer.concat([nonce, ct, cipher.getAuthTag()]),
      providerKeyId: this.keyId,
    };
  }

  async unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    /* Precondition: the key was wrapped by this root key. */
    if (wrapped.providerKeyId !== this.keyId) {
      throw new RegistryError(
        'CRYPTO',
        `this vault key was wrapped by root key ${wrapped.providerKeyId}, but the configured root key is ${this.keyId}; configure the root key the store was created with`,
      );
    }
    const c = Buffer.from(wrapped.ciphertext);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, c.subarray(0, 12));
      decipher.setAAD(vaultKeyAad(context));
      decipher.setAuthTag(c.subarray(c.length - 16));
      return Buffer.concat([decipher.update(c.subarray(12, c.length - 16)), decipher.final()]);
    } catch {
      throw new RegistryError(
        'CRYPTO',
        'a wrapped vault key failed authentication: it was altered or moved to another vault',
      );
    }
  }

  /** Zeroes the key in memory; the provider is unusable afterwards. */
  close(): void {
    this.#key.fill(0);
  }
}

/** Decodes a base64 root key, refusing anything that is not 32 bytes. */
export function decodeRootKey(base64: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new RegistryError(
      'CONFIG',
      `the root key must be base64 of ${KEY_BYTES} random bytes (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`,
    );
  }
  return key;
}

/**
 * Reads the root key file, or creates one (mode 0600) when `create` is set and none exists. The
 * embedded default creates it beside the data: convenient for development, and exactly as safe as
 * that directory, which the threat model says.
 */
export function loadRootKeyFile(path: string, options: { create: boolean; logger: Logger }): Buffer {
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      options.logger.warn(
        { path, mode: mode.toString(8) },
        'root key file is readable by other users; chmod 600 it',
      );
    }
    return decodeRootKey(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!options.create) {
      throw new RegistryError(
        'CONFIG',
        `root key file ${path} does not exist; if this store already holds data, restore the file from your backup, or set CREDREG_ROOT_KEY`,
      );
    }
  }
  const key = randomBytes(KEY_BYTES);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  options.logger.warn(
    { path },
    'created a local root key beside the data: for development only; back it up, or use CREDREG_ROOT_KEY or a KMS in production',
  );
  return key;
}
