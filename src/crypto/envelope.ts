import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RegistryError } from '../core/errors.js';
import type { Envelope, ValueBinding, VaultKey } from '../core/ports.js';

/**
 * Stored form of one credential version (format 1):
 *
 * | bytes  | field                                                      |
 * |--------|------------------------------------------------------------|
 * | 0      | format version (1)                                         |
 * | 1      | algorithm (1 = AES-256-GCM for both the value and the DEK) |
 * | 2–5    | vault-key version, uint32 big-endian                       |
 * | 6–17   | nonce of the wrapped data key                              |
 * | 18–65  | data key wrapped by the vault key (32 bytes + 16-byte tag) |
 * | 66–77  | nonce of the value                                         |
 * | 78–    | value ciphertext, then its 16-byte tag                     |
 *
 * The value's AAD binds format, algorithm, tenant, vault, credential and version, so a blob copied
 * to any other row fails to open. The vault-key version is bound into the data key's AAD instead:
 * re-wrapping a data key under a newer vault key rewrites bytes 2–65 only and never touches, or
 * needs to decrypt, the value.
 */
export const FORMAT_VERSION = 1;
export const ALG_AES_256_GCM = 1;

const NONCE = 12;
const TAG = 16;
const KEY = 32;
const HEADER = 6;
const WRAPPED_DEK_END = HEADER + NONCE + KEY + TAG; // 66
const VALUE_START = WRAPPED_DEK_END + NONCE; // 78

function aad(label: string, header: Uint8Array, b: ValueBinding): Buffer {
  const version = Buffer.alloc(4);
  version.writeUInt32BE(b.version);
  return Buffer.concat([
    Buffer.from(`credreg/${label}/v1\0`),
    header,
    Buffer.from(`${b.tenantId}\0${b.vaultId}\0${b.credentialId}\0`),
    version,
  ]);
}

function gcmEncrypt(key: Uint8Array, plaintext: Uint8Array, additional: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additional);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function gcmDecrypt(key: Uint8Array, sealed: Uint8Array, additional: Buffer): Buffer {
  const nonce = sealed.subarray(0, NONCE);
  const body = sealed.subarray(NONCE, sealed.length - TAG);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(additional);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([decipher.update(body), decipher.final()]);
}

const cryptoError = () =>
  new RegistryError(
    'CRYPTO',
    'the stored value failed authentication: it was altered, or it belongs to another credential, version or tenant',
  );

function checkKeyFits(key: VaultKey, b: ValueBinding, vaultKeyVersion: number): void {
  /* Precondition: the vault key belongs to the binding's tenant and vault, at the blob's key version. */
  if (key.tenantId !== b.tenantId || key.vaultId !== b.vaultId || key.vaultKeyVersion !== vaultKeyVersion) {
    throw cryptoError();
  }
}

export const aesGcmEnvelope: Envelope = {
  seal(plaintext, key, binding) {
    const header = Buffer.alloc(HEADER);
    header.writeUInt8(FORMAT_VERSION, 0);
    header.writeUInt8(ALG_AES_256_GCM, 1);
    header.writeUInt32BE(key.vaultKeyVersion, 2);
    checkKeyFits(key, binding, key.vaultKeyVersion);
    const dataKey = randomBytes(KEY);
    try {
      const wrappedDek = gcmEncrypt(key.material, dataKey, aad('data-key', header, binding));
      const value = gcmEncrypt(dataKey, plaintext, aad('value', header.subarray(0, 2), binding));
      return Buffer.concat([header, wrappedDek, value]);
    } finally {
      dataKey.fill(0);
    }
  },

  open(blob, key, binding) {
    /* Precondition: the blob is long enough for a header, a wrapped data key and a tag. */
    if (blob.length < VALUE_START + TAG) throw cryptoError();
    const header = blob.subarray(0, HEADER);
    /* Precondition: the blob is in a format and algorithm this build knows. */
    if (header[0] !== FORMAT_VERSION || header[1] !== ALG_AES_256_GCM) throw cryptoError();
    checkKeyFits(key, binding, Buffer.from(header).readUInt32BE(2));
    let dataKey: Buffer | undefined;
    try {
      dataKey = gcmDecrypt(
        key.material,
        blob.subarray(HEADER, WRAPPED_DEK_END),
        aad('data-key', header, binding),
      );
      return gcmDecrypt(
        dataKey,
        blob.subarray(WRAPPED_DEK_END),
        aad('value', header.subarray(0, 2), binding),
      );
    } catch {
      // The OpenSSL message says nothing useful and must not become the client's message.
      throw cryptoError();
    } finally {
      dataKey?.fill(0);
    }
  },

  rewrap(blob, from, to, binding) {
    /* Precondition: the blob is long enough for a header, a wrapped data key and a tag. */
    if (blob.length < VALUE_START + TAG) throw cryptoError();
    const header = blob.subarray(0, HEADER);
    if (header[0] !== FORMAT_VERSION || header[1] !== ALG_AES_256_GCM) throw cryptoError();
    checkKeyFits(from, binding, Buffer.from(header).readUInt32BE(2));
    checkKeyFits(to, binding, to.vaultKeyVersion);
    const newHeader = Buffer.from(header);
    newHeader.writeUInt32BE(to.vaultKeyVersion, 2);
    let dataKey: Buffer | undefined;
    try {
      dataKey = gcmDecrypt(
        from.material,
        blob.subarray(HEADER, WRAPPED_DEK_END),
        aad('data-key', header, binding),
      );
      const wrappedDek = gcmEncrypt(to.material, dataKey, aad('data-key', newHeader, binding));
      return Buffer.concat([newHeader, wrappedDek, blob.subarray(WRAPPED_DEK_END)]);
    } catch {
      throw cryptoError();
    } finally {
      dataKey?.fill(0);
    }
  },

  vaultKeyVersionOf(blob) {
    if (blob.length < HEADER) throw cryptoError();
    return Buffer.from(blob).readUInt32BE(2);
  },
};
