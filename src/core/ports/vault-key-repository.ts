import type { VaultKeyRecord } from '../ports.js';

/** The tenant's wrapped vault keys (`vault_keys`), one row per vault and key version. */
export interface VaultKeyRepository {
  insert(record: VaultKeyRecord): Promise<void>;
  /** One wrapped vault key, for unwrapping after a cache miss. */
  find(vaultId: string, version: number): Promise<VaultKeyRecord | null>;
  /** This tenant's vault keys in (vault, version) order, after the one given: a keyset page. */
  list(limit: number, after?: { vaultId: string; vaultKeyVersion: number }): Promise<VaultKeyRecord[]>;
  /** Replaces a vault key's wrapping if it is still the one read (compare-and-set). */
  replaceWrapping(record: VaultKeyRecord, wrapped: VaultKeyRecord['wrapped']): Promise<boolean>;
  /** Each vault-key version with how many live ciphertexts still use it. */
  usage(vaultId: string): Promise<Array<{ version: number; createdAt: Date; dataKeys: number }>>;
  /** Deletes a vault-key version; versions already destroyed by retention (no ciphertext) move to `current`. */
  delete(vaultId: string, version: number, current: number): Promise<boolean>;
}
