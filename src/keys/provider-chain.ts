import { RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';

/**
 * The current root key provider, plus retired ones (of any kind: a local key, a KMS, an HSM, a
 * Transit key) that may still unwrap vault keys until a root rotation has moved them. New wraps
 * always use the current provider; the current one is asked first, so a retired provider of the
 * same kind only sees keys the current one cannot open.
 */
export class ProviderChain implements RootKeyProvider {
  readonly name: string;
  readonly generateKey?: RootKeyProvider['generateKey'];

  constructor(
    readonly current: RootKeyProvider,
    readonly previous: readonly RootKeyProvider[],
  ) {
    this.name = current.name;
    this.generateKey = current.generateKey?.bind(current);
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return this.#owner(wrapped) !== undefined;
  }

  currentKeyTest(): Promise<CurrentRootKeyTest> {
    return this.current.currentKeyTest();
  }

  wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    return this.current.wrapKey(plaintextKey, context);
  }

  unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    const owner = this.#owner(wrapped);
    if (!owner) {
      throw new RegistryError(
        'CRYPTO',
        `no configured root key can unwrap a key wrapped by ${wrapped.providerKeyId}`,
      );
    }
    return owner.unwrapKey(wrapped, context);
  }

  /** Inside the current provider when it can (KMS to KMS); null otherwise. */
  async rewrapKey(wrapped: WrappedKey, context: KeyContext): Promise<WrappedKey | null> {
    if (this.current.rewrapKey && this.current.canUnwrap(wrapped))
      return this.current.rewrapKey(wrapped, context);
    return null;
  }

  #owner(wrapped: WrappedKey): RootKeyProvider | undefined {
    if (this.current.canUnwrap(wrapped)) return this.current;
    return this.previous.find((p) => p.canUnwrap(wrapped));
  }
}
