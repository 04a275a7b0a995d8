import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { RegistryError } from '../core/errors.js';
import type { KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';

/** The slice of a KMS client this provider uses (a real `KMSClient`, or one under test). */
export type KmsLike = Pick<KMSClient, 'send'>;

export interface AwsKmsProviderOptions {
  /** Key id, ARN or alias (`alias/credreg`) used for every tenant without its own. */
  keyId: string;
  /** Per-tenant keys, by tenant id. (Default: none) */
  tenantKeys?: Readonly<Record<string, string>>;
  /** A client to use; otherwise one from the standard AWS credential chain and region. */
  client?: KmsLike;
  /** SDK attempts per call, with its exponential backoff. (Default: 4) */
  maxAttempts?: number;
}

/**
 * Names tenant, vault and key version. KMS binds the ciphertext to it (like AAD) and CloudTrail
 * records it: ids only, never anything secret.
 */
export function encryptionContext(c: KeyContext): Record<string, string> {
  return {
    'credreg:tenant': c.tenantId,
    'credreg:vault': c.vaultId,
    'credreg:vault-key-version': String(c.vaultKeyVersion),
  };
}

/** KMS answers that mean "refused" (no retry helps); anything else means "could not reach". */
const REFUSALS = new Set([
  'AccessDeniedException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KMSInvalidStateException',
  'DisabledException',
  'NotFoundException',
  'ValidationException',
  // The service's own credentials are wrong or expired: retrying cannot help either.
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);

/**
 * Vault keys wrapped by an AWS KMS key. Each wrap and unwrap is one `Encrypt` or `Decrypt` call
 * (the vault key is 32 bytes, well under KMS's 4 KiB); a warm reveal makes none.
 */
export class AwsKmsKeyProvider implements RootKeyProvider {
  readonly name = 'aws-kms';
  readonly #client: KmsLike;
  readonly #options: AwsKmsProviderOptions;

  constructor(options: AwsKmsProviderOptions) {
    this.#options = options;
    this.#client = options.client ?? new KMSClient({ maxAttempts: options.maxAttempts ?? 4 });
  }

  async wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    const keyId = this.#options.tenantKeys?.[context.tenantId] ?? this.#options.keyId;
    const out = await this.#call(() =>
      this.#client.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: plaintextKey,
          EncryptionContext: encryptionContext(context),
        }),
      ),
    );
    if (!out.CiphertextBlob) throw new RegistryError('CRYPTO', 'AWS KMS returned no ciphertext');
    return { provider: this.name, ciphertext: out.CiphertextBlob, providerKeyId: out.KeyId ?? keyId };
  }

  async unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    const out = await this.#call(() =>
      this.#client.send(
        new DecryptCommand({
          CiphertextBlob: wrapped.ciphertext,
          KeyId: wrapped.providerKeyId,
          EncryptionContext: encryptionContext(context),
        }),
      ),
    );
    if (!out.Plaintext) throw new RegistryError('CRYPTO', 'AWS KMS returned no plaintext');
    return out.Plaintext;
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const name = (err as { name?: string }).name ?? 'Error';
      if (REFUSALS.has(name)) {
        throw new RegistryError('CRYPTO', `AWS KMS refused the key operation (${name})`, { cause: err });
      }
      throw new RegistryError(
        'UNAVAILABLE',
        `AWS KMS could not be reached or is throttling (${name}); retry later`,
        {
          cause: err,
        },
      );
    }
  }
}
