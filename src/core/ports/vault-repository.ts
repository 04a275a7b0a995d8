import type { VaultKeyRecord } from '../ports.js';
import type { Vault } from '../types.js';

/** A vault to create; the store adds the tenant, the first key version and the times. */
export interface VaultInsert {
  id: string;
  name: string;
  description: string | null;
  maxVersions: number;
  /** The default expiry alert windows of its credentials; null (Default): the system default. */
  expiryAlerts?: string[] | null;
  createdBy: string;
}

/** The fields `update` may change; those left undefined keep their value. */
export interface VaultPatch {
  /** null: the system default. */
  expiryAlerts?: string[] | null;
}

/** The tenant's vaults (`credential_vaults`). Their keys are `VaultKeyRepository`'s. */
export interface VaultRepository {
  insert(v: VaultInsert): Promise<Vault>;
  find(id: string): Promise<Vault | null>;
  /** Locks the vault row (serializes key rotations) and returns it. */
  lock(id: string): Promise<Vault | null>;
  /** The vault and the wrapped key that new versions use. */
  findWithCurrentKey(id: string): Promise<{ vault: Vault; key: VaultKeyRecord } | null>;
  /** By its name, unique in the tenant. */
  findByName(name: string): Promise<Vault | null>;
  /** By name, after the one given: a keyset page; only the one of `name`, or those starting with `prefix`. */
  list(
    limit: number,
    after?: { name: string; id: string },
    filters?: { name?: string; prefix?: string },
  ): Promise<Vault[]>;
  setCurrentKeyVersion(vaultId: string, version: number): Promise<void>;
  /** Changes its settings; null when there is no such vault. */
  update(id: string, patch: VaultPatch): Promise<Vault | null>;
  delete(id: string): Promise<boolean>;
}
