import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { VaultKey } from '../../src/core/ports.js';
import { aesGcmEnvelope } from '../../src/crypto/envelope.js';

const tenantId = '01890000-0000-7000-8000-000000000001';
const vaultId = '01890000-0000-7000-8000-000000000002';
const credentialId = '01890000-0000-7000-8000-000000000003';
const binding = { tenantId, vaultId, credentialId, version: 1 };
const key = (version = 1, material = randomBytes(32)): VaultKey => ({
  tenantId,
  vaultId,
  vaultKeyVersion: version,
  material,
});

describe('envelope', () => {
  it('round-trips, with a fresh data key and nonce each time', () => {
    const k = key();
    const a = aesGcmEnvelope.seal(Buffer.from('secret'), k, binding);
    const b = aesGcmEnvelope.seal(Buffer.from('secret'), k, binding);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(aesGcmEnvelope.open(a, k, binding)).toString()).toBe('secret');
    expect(Buffer.from(a).includes(Buffer.from('secret'))).toBe(false);
  });

  it('writes format 1, AES-256-GCM and the vault-key version in the header', () => {
    const blob = Buffer.from(aesGcmEnvelope.seal(Buffer.from('x'), key(7), binding));
    expect([blob[0], blob[1]]).toEqual([1, 1]);
    expect(aesGcmEnvelope.vaultKeyVersionOf(blob)).toBe(7);
    expect(blob.length).toBe(78 + 1 + 16);
  });

  it('fails with CRYPTO under any other binding', () => {
    const k = key();
    const blob = aesGcmEnvelope.seal(Buffer.from('x'), k, binding);
    for (const other of [
      { ...binding, version: 2 },
      { ...binding, credentialId: vaultId },
      { ...binding, tenantId: credentialId },
    ]) {
      expect(() => aesGcmEnvelope.open(blob, { ...k, tenantId: other.tenantId }, other)).toThrow(
        expect.objectContaining({ code: 'CRYPTO' }),
      );
    }
  });

  it("Precondition: the vault key belongs to the binding's tenant and vault, at the blob's key version", () => {
    const k = key(1);
    const blob = aesGcmEnvelope.seal(Buffer.from('x'), k, binding);
    expect(() => aesGcmEnvelope.open(blob, { ...k, vaultKeyVersion: 2 }, binding)).toThrow(
      /failed authentication/,
    );
    expect(() => aesGcmEnvelope.open(blob, { ...k, vaultId: credentialId }, binding)).toThrow(
      /failed authentication/,
    );
    expect(() => aesGcmEnvelope.seal(Buffer.from('x'), { ...k, tenantId: vaultId }, binding)).toThrow(
      /failed authentication/,
    );
  });

  it('fails under another vault key of the same version (wrong material)', () => {
    const blob = aesGcmEnvelope.seal(Buffer.from('x'), key(), binding);
    expect(() => aesGcmEnvelope.open(blob, key(), binding)).toThrow(
      expect.objectContaining({ code: 'CRYPTO' }),
    );
  });

  it('Precondition: the blob is long enough for a header, a wrapped data key and a tag', () => {
    expect(() => aesGcmEnvelope.open(Buffer.alloc(93), key(), binding)).toThrow(
      expect.objectContaining({ code: 'CRYPTO' }),
    );
    expect(() => aesGcmEnvelope.vaultKeyVersionOf(Buffer.alloc(3))).toThrow(
      expect.objectContaining({ code: 'CRYPTO' }),
    );
  });

  it('Precondition: the blob is in a format and algorithm this build knows', () => {
    const k = key();
    const blob = Buffer.from(aesGcmEnvelope.seal(Buffer.from('x'), k, binding));
    blob[0] = 2;
    expect(() => aesGcmEnvelope.open(blob, k, binding)).toThrow(expect.objectContaining({ code: 'CRYPTO' }));
  });

  it('a tampered vault-key version in the header fails even with the matching key', () => {
    const k1 = key(1);
    const blob = Buffer.from(aesGcmEnvelope.seal(Buffer.from('x'), k1, binding));
    blob.writeUInt32BE(2, 2);
    expect(() => aesGcmEnvelope.open(blob, { ...k1, vaultKeyVersion: 2 }, binding)).toThrow(
      /failed authentication/,
    );
  });

  it('re-wraps a data key to another vault-key version without touching the value', () => {
    const k1 = key(1);
    const k2 = key(2);
    const blob = Buffer.from(aesGcmEnvelope.seal(Buffer.from('keep'), k1, binding));
    const moved = Buffer.from(aesGcmEnvelope.rewrap(blob, k1, k2, binding));
    expect(aesGcmEnvelope.vaultKeyVersionOf(moved)).toBe(2);
    expect(moved.subarray(66).equals(blob.subarray(66))).toBe(true);
    expect(Buffer.from(aesGcmEnvelope.open(moved, k2, binding)).toString()).toBe('keep');
    expect(() => aesGcmEnvelope.open(moved, k1, binding)).toThrow(/failed authentication/);
    expect(() => aesGcmEnvelope.rewrap(blob, key(1), k2, binding)).toThrow(
      expect.objectContaining({ code: 'CRYPTO' }),
    );
    expect(() => aesGcmEnvelope.rewrap(blob, k1, k2, { ...binding, version: 2 })).toThrow(
      /failed authentication/,
    );
  });
});
