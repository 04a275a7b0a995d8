/**
 * Ports: the narrow interfaces the core needs from the outside world. Adapters in `db/`, `crypto/`
 * and `keys/` implement them; `main.ts` wires them. The core imports none of those folders.
 */
import type {
  AccessAction,
  AccessLogEntry,
  AccessOutcome,
  ApiToken,
  Credential,
  CredentialType,
  CredentialVersion,
  Principal,
  Role,
  Tenant,
  Vault,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Keys

/** What a wrapped vault key is bound to; a key provider must refuse to unwrap under another context. */
export interface KeyContext {
  tenantId: string;
  vaultId: string;
  vaultKeyVersion: number;
}

/** One string per vault key (tenant, vault, version): for maps of keys held or being unwrapped. */
export const keyContextName = (c: KeyContext) => `${c.tenantId}/${c.vaultId}/${c.vaultKeyVersion}`;

/**
 * The additional authenticated data that binds a wrapped vault key to its context, for providers
 * that wrap with AES-GCM (local, PKCS#11, Vault Transit, which sends it base64 as
 * `associated_data`). The bytes are the UTF-8 of
 *
 * `credreg/vault-key/v1` 0x00 `tenantId` 0x00 `vaultId` 0x00 `vaultKeyVersion`
 *
 * with the ids exactly as the context holds them (as stored), the version in decimal without
 * leading zeros, and no trailing separator. Every stored wrapped key was made under these bytes: changing
 * one makes them all fail to unwrap, so a new format needs a new label (`v2`) and a re-wrap.
 * (AWS KMS takes a map rather than bytes: its encryption context names the same three ids.)
 *
 * @example
 * vaultKeyAad({ tenantId: 't', vaultId: 'v', vaultKeyVersion: 3 }).toString('latin1');
 * // 'credreg/vault-key/v1\u0000t\u0000v\u00003'
 */
export function vaultKeyAad(c: KeyContext): Buffer {
  return Buffer.from(`credreg/vault-key/v1\0${c.tenantId}\0${c.vaultId}\0${c.vaultKeyVersion}`, 'utf8');
}

export interface WrappedKey {
  /** The provider that wrapped it (`local`, `aws-kms`, …). */
  provider: string;
  ciphertext: Uint8Array;
  /** The provider's name for the key that wrapped it (e.g. `local:1f2e…`, a KMS key ARN). */
  providerKeyId: string;
}

/**
 * Whether a wrapped vault key is under the current root key (and, where the provider versions its
 * keys, its latest version). A root rotation re-wraps every vault key that fails it.
 */
export type CurrentRootKeyTest = (wrapped: WrappedKey, context: KeyContext) => boolean;

/**
 * The root of the key hierarchy. It wraps and unwraps vault keys only, so a warm reveal never calls
 * it. Implementations may be remote (KMS, HSM): they may be slow and they may fail; failures must be
 * `RegistryError`s with code `UNAVAILABLE` (cannot reach) or `CRYPTO` (refused, wrong key, tampered).
 */
export interface RootKeyProvider {
  /** Short name for configuration and logs: `local`, `aws-kms`, … */
  readonly name: string;
  /**
   * The `providerKeyId` it records on the keys it wraps, when it knows it up front (a local key's
   * fingerprint, a Transit mount and key, an HSM token and label); AWS KMS learns the ARN per call.
   */
  readonly keyId?: string;
  /** Lets go of what it holds: zeroes a local key, logs out of an HSM. Called once, at shutdown. */
  close?(): void;
  /** Whether it holds, or can reach, the key that wrapped this one. Local: no provider call. */
  canUnwrap(wrapped: WrappedKey): boolean;
  /**
   * What "current" means right now. Taken once per root rotation, so a provider may ask its
   * service (Transit's latest key version, the key an AWS alias points to).
   */
  currentKeyTest(): Promise<CurrentRootKeyTest>;
  wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey>;
  unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array>;
  /** A fresh vault key made by the provider itself (KMS `GenerateDataKey`), plain and wrapped. */
  generateKey?(context: KeyContext): Promise<{ plaintext: Uint8Array; wrapped: WrappedKey }>;
  /**
   * Moves a key to its current key without the key leaving the provider (KMS `ReEncrypt`), or
   * answers null when it cannot move this one so. Then, or without it, a root rotation unwraps and
   * wraps again in this process.
   */
  rewrapKey?(wrapped: WrappedKey, context: KeyContext): Promise<WrappedKey | null>;
}

/** A vault key as stored: wrapped, with the context it was wrapped under. */
export interface VaultKeyRecord extends KeyContext {
  wrapped: WrappedKey;
}

/** An unwrapped vault key, opaque to the core. */
export interface VaultKey extends KeyContext {
  readonly material: Uint8Array;
}

/**
 * Vault keys in and out of the root key, with a bounded in-memory cache of unwrapped ones.
 * `cached` is synchronous on purpose: it is what runs inside a database transaction.
 */
export interface KeyRing {
  /**
   * A fresh vault key, and the same wrapped by the root key (calls the provider). `key` is the
   * cache's own entry, zeroed when the cache lets go of it: copy it to keep it.
   */
  createVaultKey(context: KeyContext): Promise<{ key: VaultKey; record: VaultKeyRecord }>;
  /** The cache's own entry, zeroed when the cache lets go of it: copy it before any await. */
  cached(record: KeyContext): VaultKey | undefined;
  /** Unwraps through the root key provider and caches it; returns a copy the caller owns and zeroes. */
  unwrap(record: VaultKeyRecord): Promise<VaultKey>;
  /** Drops every cached key of a vault (after deletion or rotation). */
  forgetVault(tenantId: string, vaultId: string): void;
  /** The root provider's current-key test, taken now (see `RootKeyProvider.currentKeyTest`). */
  currentRootKeyTest(): Promise<(record: VaultKeyRecord) => boolean>;
  /** Moves a vault key from whichever root key wrapped it to the current one. */
  rewrapUnderCurrentRoot(record: VaultKeyRecord): Promise<VaultKeyRecord['wrapped']>;
}

/** What a ciphertext is bound to through its additional authenticated data. */
export interface ValueBinding {
  tenantId: string;
  vaultId: string;
  credentialId: string;
  version: number;
}

/** Envelope encryption of one credential version's value under a vault key. */
export interface Envelope {
  seal(plaintext: Uint8Array, key: VaultKey, binding: ValueBinding): Uint8Array;
  /** Throws `RegistryError('CRYPTO')` if the blob was tampered with or belongs to another binding. */
  open(blob: Uint8Array, key: VaultKey, binding: ValueBinding): Uint8Array;
  /** The vault-key version named in a blob's header, read without decrypting. */
  vaultKeyVersionOf(blob: Uint8Array): number;
  /**
   * Moves a blob's data key from one vault-key version to another. The value's ciphertext is kept
   * byte for byte: it is never decrypted.
   */
  rewrap(blob: Uint8Array, from: VaultKey, to: VaultKey, binding: ValueBinding): Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Storage

/** A row to append; the store adds its id, tenant and time. */
export type AccessLogInsert = Omit<AccessLogEntry, 'id' | 'tenantId' | 'occurredAt'>;

export interface AccessLogQuery {
  credentialId?: string;
  vaultId?: string;
  actor?: string;
  action?: AccessAction;
  outcome?: AccessOutcome;
  /** Inclusive lower bound on `occurredAt`. */
  from?: Date;
  /** Exclusive upper bound on `occurredAt`. */
  to?: Date;
  limit: number;
  /** Only entries older than this id (ids are time-ordered). */
  beforeId?: string;
}

export interface CredentialInsert {
  id: string;
  vaultId: string;
  name: string;
  type: CredentialType;
  metadata: Record<string, unknown>;
  expiresAt: Date | null;
  rotationSchedule: string | null;
  createdBy: string;
}

export interface VersionInsert {
  credentialId: string;
  vaultId: string;
  version: number;
  vaultKeyVersion: number;
  ciphertext: Uint8Array;
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
 * joined: a warm reveal finds the key in the cache, and a cold one loads it with `findVaultKey`.
 */
export interface SealedCredential {
  credential: CredentialState;
  version: { version: number; vaultKeyVersion: number; ciphertext: Uint8Array | null } | null;
}

export interface CredentialPatch {
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
  rotationSchedule?: string | null;
  isActive?: boolean;
  deletedAt?: Date | null;
  purgeAfter?: Date | null;
}

/**
 * The tenant-scoped unit of work: every method runs inside the one transaction that `withTenant`
 * opened, as the runtime role, with the tenant set. Row-level security filters every statement.
 */
export interface TenantTx {
  readonly tenantId: string;

  insertPrincipal(p: { id: string; name: string; kind: 'user' | 'service' }): Promise<Principal>;
  findPrincipal(id: string): Promise<Principal | null>;

  insertToken(t: TokenInsert): Promise<ApiToken>;
  /** The token with its secret's hash, for verification. */
  findToken(id: string): Promise<(ApiToken & { secretHash: Uint8Array }) | null>;
  listTokens(limit: number, afterId?: string): Promise<ApiToken[]>;
  /** Sets `revokedAt` unless already set; returns the token, or null if there is none. */
  revokeToken(id: string, at: Date): Promise<ApiToken | null>;
  listPrincipals(limit: number, afterName?: string): Promise<Principal[]>;

  insertVault(v: {
    id: string;
    name: string;
    description: string | null;
    maxVersions: number;
    createdBy: string;
  }): Promise<Vault>;
  insertVaultKey(record: VaultKeyRecord): Promise<void>;
  findVault(id: string): Promise<Vault | null>;
  /** Locks the vault row (serializes key rotations) and returns it. */
  lockVault(id: string): Promise<Vault | null>;
  setCurrentKeyVersion(vaultId: string, version: number): Promise<void>;
  /** Live ciphertexts still under an older vault-key version, locked; rows other re-wraps hold are skipped. */
  claimVersionsToRewrap(
    vaultId: string,
    currentKeyVersion: number,
    limit: number,
  ): Promise<
    Array<{ credentialId: string; version: number; vaultKeyVersion: number; ciphertext: Uint8Array }>
  >;
  setVersionCiphertext(
    credentialId: string,
    version: number,
    vaultKeyVersion: number,
    ciphertext: Uint8Array,
  ): Promise<void>;
  /** Each vault-key version with how many live ciphertexts still use it. */
  vaultKeyUsage(vaultId: string): Promise<Array<{ version: number; createdAt: Date; dataKeys: number }>>;
  /** Deletes a vault-key version; versions already destroyed by retention (no ciphertext) move to `current`. */
  deleteVaultKey(vaultId: string, version: number, current: number): Promise<boolean>;
  /** This tenant's vault keys in (vault, version) order, after the one given: a keyset page. */
  listVaultKeys(
    limit: number,
    after?: { vaultId: string; vaultKeyVersion: number },
  ): Promise<VaultKeyRecord[]>;
  /** Replaces a vault key's wrapping if it is still the one read (compare-and-set). */
  replaceVaultKeyWrapping(record: VaultKeyRecord, wrapped: VaultKeyRecord['wrapped']): Promise<boolean>;
  /** One wrapped vault key, for unwrapping after a cache miss. */
  findVaultKey(vaultId: string, version: number): Promise<VaultKeyRecord | null>;
  /** The vault and the wrapped key that new versions use. */
  findVaultWithCurrentKey(id: string): Promise<{ vault: Vault; key: VaultKeyRecord } | null>;
  listVaults(limit: number, after?: { name: string; id: string }): Promise<Vault[]>;
  /** Ids of every credential in the vault, soft-deleted ones included. */
  credentialIdsInVault(vaultId: string): Promise<string[]>;
  deleteVault(id: string): Promise<boolean>;

  insertCredential(c: CredentialInsert): Promise<Credential>;
  insertVersion(v: VersionInsert): Promise<CredentialVersion>;
  findCredential(id: string, opts?: { forUpdate?: boolean }): Promise<Credential | null>;
  /** For reveal: the credential, one version (the current one unless given) and its vault key. */
  findSealed(id: string, version?: number): Promise<SealedCredential | null>;
  /** For rotation: locks the credential row, returns it with the vault's retention and current key. */
  findForRotation(
    id: string,
  ): Promise<{ credential: Credential; maxVersions: number; key: VaultKeyRecord } | null>;
  listCredentials(
    vaultId: string,
    limit: number,
    after?: { name: string; id: string },
    includeDeleted?: boolean,
  ): Promise<Credential[]>;
  listVersions(credentialId: string): Promise<CredentialVersion[]>;
  setCurrentVersion(
    credentialId: string,
    version: number,
    expiresAt: Date | null | undefined,
  ): Promise<Credential>;
  /** Removes the ciphertext of every version up to `version` (retention); returns how many. */
  destroyVersionsThrough(credentialId: string, version: number): Promise<number>;
  updateCredential(id: string, patch: CredentialPatch): Promise<Credential>;
  /**
   * Hard delete of the credential and its versions, and so of the wrapped data keys in them. A copy
   * of a blob kept elsewhere (a backup) stays decryptable while its vault key exists.
   */
  purgeCredential(id: string): Promise<boolean>;
  /** Soft-deleted credentials whose recovery window ended at `now`, oldest first. */
  listPurgeDue(now: Date, limit: number): Promise<Credential[]>;

  appendAccessLog(entry: AccessLogInsert): Promise<void>;
  queryAccessLog(q: AccessLogQuery): Promise<AccessLogEntry[]>;
}

export interface TokenInsert {
  id: string;
  principalId: string;
  role: Role;
  vaultId: string | null;
  secretHash: Uint8Array;
  expiresAt: Date | null;
  createdBy: string;
}

export interface PlatformToken {
  id: string;
  name: string;
  secretHash: Uint8Array;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/**
 * A job that runs on a schedule over the whole store, once per interval across every instance
 * sharing the database. Each has its lease row, made by a migration.
 */
export type ScheduledJob = 'maintenance';

/** Platform-level unit of work: tenants, platform tokens and job leases only. It sees no tenant data. */
export interface PlatformTx {
  insertPlatformToken(t: { id: string; name: string; secretHash: Uint8Array }): Promise<void>;
  findPlatformToken(id: string): Promise<PlatformToken | null>;
  countPlatformTokens(): Promise<number>;
  /** Serializes bootstraps: held until the transaction ends. */
  lockPlatformTokens(): Promise<void>;
  insertTenant(t: { id: string; name: string }): Promise<Tenant>;
  findTenant(id: string): Promise<Tenant | null>;
  listTenants(limit: number, after?: { name: string; id: string }): Promise<Tenant[]>;
  /**
   * Claims the next run of `job` for `holder` if it is due, and holds it for `leaseMs` by the
   * database's clock: answers the lease's end to exactly one caller until then, whichever instance
   * asks, and null to the others. One atomic statement, so nothing is held between calls and a
   * holder that dies just lets the lease lapse.
   */
  claimJobRun(job: ScheduledJob, holder: string, leaseMs: number): Promise<Date | null>;
}

export interface RegistryStore {
  /**
   * The only way to touch tenant data: one transaction, as the runtime role, tenant set first.
   * Commits when `fn` resolves, rolls back when it throws. Never await a slow call (key provider,
   * network) inside `fn`: the embedded store has one connection.
   */
  withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T>;
  withPlatform<T>(fn: (tx: PlatformTx) => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------------
// Environment

export interface Clock {
  now(): Date;
}

/** The slice of a pino logger the core uses. Never pass a secret value to it. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const systemClock: Clock = { now: () => new Date() };
