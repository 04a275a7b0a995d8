import { RegistryError } from '../core/errors.js';
import type { KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';
import type { LocalKeyProvider } from './local-key-provider.js';

/**
 * The current root key provider, plus retired local root keys that may still unwrap vault keys
 * until a root-key rotation has re-wrapped them. New wraps always use the current provider.
 */
export class ProviderChain implements RootKeyProvider {
  readonly name: string;

  constructor(
    readonly current: RootKeyProvider,
    readonly previous: readonly LocalKeyProvider[],
  ) {
    this.name = current.name;
  }

  /** The identities (provider, key id) a root rotation moves vault keys away from. */
  retiredKeyIds(): string[] {
    return this.previous.map((p) => p.keyId);
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return this.#owner(wrapped) !== undefined;
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

  #owner(wrapped: WrappedKey): RootKeyProvider | undefined {
    const retired = this.previous.find(
      (p) => wrapped.provider === 'local' && p.keyId === wrapped.providerKeyId,
    );
    if (retired) return retired;
    const current = this.current.canUnwrap?.(wrapped) ?? wrapped.provider === this.current.name;
    return current ? this.current : undefined;
  }
}
