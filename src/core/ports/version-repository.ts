import type { CredentialVersion, ListedVersion } from '../types.js';

/** A sealed version to add; the store adds the tenant and the time. */
export interface VersionInsert {
  credentialId: string;
  vaultId: string;
  version: number;
  vaultKeyVersion: number;
  ciphertext: Uint8Array;
  createdBy: string;
}

/** The tenant's credential versions (`credential_versions`), each with its sealed value. */
export interface VersionRepository {
  insert(v: VersionInsert): Promise<CredentialVersion>;
  /** A credential's versions, newest first, with their creators' names; never their ciphertexts. */
  list(credentialId: string): Promise<Omit<ListedVersion, 'stages'>[]>;
  /** Removes the ciphertext of every version up to `version` (retention); returns how many. */
  destroyThrough(credentialId: string, version: number): Promise<number>;
  /** Live ciphertexts still under an older vault-key version, locked; rows other re-wraps hold are skipped. */
  claimToRewrap(
    vaultId: string,
    currentKeyVersion: number,
    limit: number,
  ): Promise<
    Array<{ credentialId: string; version: number; vaultKeyVersion: number; ciphertext: Uint8Array }>
  >;
  setCiphertext(
    credentialId: string,
    version: number,
    vaultKeyVersion: number,
    ciphertext: Uint8Array,
  ): Promise<void>;
}
