/**
 * Opt-in: the AWS KMS provider against real AWS. Runs only when credentials and a key are
 * configured (CREDREG_TEST_KMS_KEY_ID plus the standard AWS variables); CI has neither.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AwsKmsKeyProvider } from '../../src/keys/aws-kms-provider.js';

const keyId = process.env.CREDREG_TEST_KMS_KEY_ID;
const configured = Boolean(
  keyId && (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) && process.env.AWS_REGION,
);

describe.skipIf(!configured)(
  'aws-kms against real AWS (set CREDREG_TEST_KMS_KEY_ID, AWS_REGION and credentials)',
  () => {
    it('round-trips a vault key and refuses another context', async () => {
      const provider = new AwsKmsKeyProvider({ keyId: keyId! });
      const ctx = {
        tenantId: '01890000-0000-7000-8000-000000000001',
        vaultId: '01890000-0000-7000-8000-000000000002',
        vaultKeyVersion: 1,
      };
      const key = randomBytes(32);
      const wrapped = await provider.wrapKey(key, ctx);
      expect(Buffer.from(await provider.unwrapKey(wrapped, ctx)).equals(key)).toBe(true);
      await expect(provider.unwrapKey(wrapped, { ...ctx, vaultKeyVersion: 2 })).rejects.toMatchObject({
        code: 'CRYPTO',
      });
    });

    it('generates a vault key, calls it current, and moves it with ReEncrypt', async () => {
      const provider = new AwsKmsKeyProvider({ keyId: keyId! });
      const ctx = {
        tenantId: '01890000-0000-7000-8000-000000000001',
        vaultId: '01890000-0000-7000-8000-000000000002',
        vaultKeyVersion: 1,
      };
      const { plaintext, wrapped } = await provider.generateKey(ctx);
      expect((await provider.currentKeyTest())(wrapped, ctx)).toBe(true);
      const moved = await provider.rewrapKey(wrapped, ctx); // same key: a fresh ciphertext
      expect(Buffer.from(await provider.unwrapKey(moved, ctx)).equals(Buffer.from(plaintext))).toBe(true);
    });
  },
);
