import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';

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
 * Vault keys made and wrapped by AWS KMS: `GenerateDataKey` for a new vault key, `Decrypt` on a
 * cache miss (a warm reveal makes no call), `ReEncrypt` to move one to another KMS key without it
 * leaving KMS, `Encrypt` when it comes from another provider. KMS's own yearly rotation of a key's
 * backing material needs nothing from here: the key id stays, and old ciphertexts still decrypt.
 */
export class AwsKmsKeyProvider implements RootKeyProvider {
  readonly name = 'aws-kms';
  readonly #client: KmsLike;
  readonly #options: AwsKmsProviderOptions;

  constructor(options: AwsKmsProviderOptions) {
    this.#options = options;
    this.#client = options.client ?? new KMSClient({ maxAttempts: options.maxAttempts ?? 4 });
  }

  /** KMS finds the key from the ciphertext itself; whether this service may use it is IAM's call. */
  canUnwrap(wrapped: WrappedKey): boolean {
    return wrapped.provider === this.name;
  }

  /**
   * Resolves each configured key id or alias to its key ARN (`DescribeKey`), since an alias can be
   * pointed at a new key: vault keys under any other ARN are moved by a root rotation.
   */
  async currentKeyTest(): Promise<CurrentRootKeyTest> {
    const configured = new Set([this.#options.keyId, ...Object.values(this.#options.tenantKeys ?? {})]);
    const arns = new Map<string, string>();
    for (const keyId of configured) {
      const out = await this.#call(() => this.#client.send(new DescribeKeyCommand({ KeyId: keyId })));
      const arn = out.KeyMetadata?.Arn;
      if (!arn) throw new RegistryError('CRYPTO', `AWS KMS described no key for ${keyId}`);
      arns.set(keyId, arn);
    }
    return (wrapped, context) =>
      wrapped.provider === this.name && wrapped.providerKeyId === arns.get(this.#keyFor(context));
  }

  async generateKey(context: KeyContext): Promise<{ plaintext: Uint8Array; wrapped: WrappedKey }> {
    const keyId = this.#keyFor(context);
    const out = await this.#call(() =>
      this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: keyId,
          KeySpec: 'AES_256',
          EncryptionContext: encryptionContext(context),
        }),
      ),
    );
    if (out.Plaintext?.length !== 32 || !out.CiphertextBlob)
      throw new RegistryError('CRYPTO', 'AWS KMS returned no 256-bit data key');
    return { plaintext: out.Plaintext, wrapped: this.#wrapped(out.CiphertextBlob, out.KeyId ?? keyId) };
  }

  async wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    const keyId = this.#keyFor(context);
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
    return this.#wrapped(out.CiphertextBlob, out.KeyId ?? keyId);
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

  async rewrapKey(wrapped: WrappedKey, context: KeyContext): Promise<WrappedKey> {
    const keyId = this.#keyFor(context);
    const out = await this.#call(() =>
      this.#client.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped.ciphertext,
          SourceKeyId: wrapped.providerKeyId,
          SourceEncryptionContext: encryptionContext(context),
          DestinationKeyId: keyId,
          DestinationEncryptionContext: encryptionContext(context),
        }),
      ),
    );
    if (!out.CiphertextBlob) throw new RegistryError('CRYPTO', 'AWS KMS returned no ciphertext');
    return this.#wrapped(out.CiphertextBlob, out.KeyId ?? keyId);
  }

  #keyFor(context: KeyContext): string {
    return this.#options.tenantKeys?.[context.tenantId] ?? this.#options.keyId;
  }

  #wrapped(ciphertext: Uint8Array, keyArn: string): WrappedKey {
    return { provider: this.name, ciphertext, providerKeyId: keyArn };
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
