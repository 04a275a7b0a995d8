import type { VaultKeyRecord } from '../ports.js';
import type { Credential, CredentialType, RotationState } from '../types.js';

/** A credential to create, at version 1; the store adds the tenant and the times. */
export interface CredentialInsert {
  id: string;
  vaultId: string;
  name: string;
  type: CredentialType;
  metadata: Record<string, unknown>;
  expiresAt: Date | null;
  rotationSchedule: string | null;
  /** Its own expiry alert windows; null (Default) inherits its vault's. */
  expiryAlerts?: string[] | null;
  createdBy: string;
}

/** The part of a credential that decides whether it may be used now. */
export type CredentialState = Pick<
  Credential,
  | 'id'
  | 'vaultId'
  | 'name'
  | 'type'
  | 'currentVersion'
  | 'expiresAt'
  | 'isActive'
  | 'deletedAt'
  | 'purgeAfter'
>;

/**
 * A credential's state with the version asked for and its ciphertext. The wrapped vault key is not
 * joined: a warm reveal finds the key in the cache, and a cold one loads it with `vaultKeys.find`.
 */
/** What a reveal reads of a credential: its state, its staged versions, and its rotator's clock. */
export interface RevealState extends CredentialState {
  /** The `pending` stage: a version a rotation made and has not promoted yet. */
  pendingVersion: number | null;
  /** The `previous` stage: the version that was current before the current one. */
  previousVersion: number | null;
  /** The rotator's type, when the credential is next due, and where its rotation stands. */
  rotator: { type: string; dueAt: Date | null; state: RotationState } | null;
}

export interface SealedCredential {
  credential: RevealState;
  version: { version: number; vaultKeyVersion: number; ciphertext: Uint8Array | null } | null;
}

/** What a listing of a vault's credentials may be narrowed to; every filter given applies. */
export interface CredentialFilters {
  /** Only those expiring by this time. */
  expiresBefore?: Date;
  /** Only those due to rotate by this time. */
  rotationDueBy?: Date;
  /** Only the one of this exact name (with `includeDeleted`, soft-deleted ones of it too). */
  name?: string;
  /** Only those whose name starts with this. */
  prefix?: string;
}

/** The fields `update` may change; those left undefined keep their value. */
export interface CredentialPatch {
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
  rotationSchedule?: string | null;
  isActive?: boolean;
  deletedAt?: Date | null;
  purgeAfter?: Date | null;
  /** `{ schedule?, rotator }` as stored; null removes rotation. */
  rotation?: Record<string, unknown> | null;
  rotationState?: RotationState;
  rotationAttempts?: number;
  lastRotationError?: { code: string; message: string; at: string } | null;
  pendingVersion?: number | null;
  previousVersion?: number | null;
  rotationLeaseUntil?: Date | null;
  lastRotatedAt?: Date | null;
  /** Its own expiry alert windows; null inherits its vault's. */
  expiryAlerts?: string[] | null;
}

/**
 * The tenant's credentials (`stored_credentials`): their metadata and which version is current.
 * The versions themselves, with the ciphertexts, are `VersionRepository`'s.
 */
export interface CredentialRepository {
  insert(c: CredentialInsert): Promise<Credential>;
  find(id: string, opts?: { forUpdate?: boolean }): Promise<Credential | null>;
  /** For reveal: the credential and one version (the current one unless given) with its vault-key version. */
  findSealed(id: string, version?: number): Promise<SealedCredential | null>;
  /** For rotation: locks the credential row, returns it with the vault's retention and current key. */
  findForRotation(
    id: string,
  ): Promise<{ credential: Credential; maxVersions: number; key: VaultKeyRecord } | null>;
  /**
   * The live credential at a path (its vault's name, its own name), with its vault: one indexed
   * lookup, both names being unique among live objects. Null when either is missing.
   */
  findByPath(vaultName: string, name: string): Promise<{ id: string; vaultId: string } | null>;
  /** A vault's credentials by name, after the one given: a keyset page. */
  list(
    vaultId: string,
    limit: number,
    after?: { name: string; id: string },
    includeDeleted?: boolean,
    filters?: CredentialFilters,
  ): Promise<Credential[]>;
  /** Ids of every credential in the vault, soft-deleted ones included. */
  idsInVault(vaultId: string): Promise<string[]>;
  setCurrentVersion(
    credentialId: string,
    version: number,
    expiresAt: Date | null | undefined,
  ): Promise<Credential>;
  update(id: string, patch: CredentialPatch): Promise<Credential>;
  /**
   * When the credential rotates next by itself (null: never), with the scheduler's queue row kept
   * in step in the same transaction.
   */
  setNextRotation(id: string, at: Date | null): Promise<void>;
  /**
   * Hard delete of the credential and its versions, and so of the wrapped data keys in them. A copy
   * of a blob kept elsewhere (a backup) stays decryptable while its vault key exists.
   */
  purge(id: string): Promise<boolean>;
  /** Soft-deleted credentials whose recovery window ended at `now`, oldest first. */
  listPurgeDue(now: Date, limit: number): Promise<Credential[]>;
  /** Records the narrowest expiry alert window sent for the current expiry (null: none); `updatedAt` stays. */
  setLastExpiryAlert(id: string, window: string | null): Promise<void>;
  /**
   * Locks and returns the vault's live credentials that expire and set no expiry alerts of their
   * own (those that inherit the vault's), in id order.
   */
  lockInheritingExpiryAlerts(vaultId: string): Promise<Credential[]>;
}
