/**
 * Ports: the narrow interfaces the core needs from the outside world. Adapters in `db/`, `crypto/`
 * and `keys/` implement them; `main.ts` wires them. The core imports none of those folders.
 */
import type { AccessLogRepository } from './ports/access-log-repository.js';
import type { AuditLeafEntry, AuditLogRepository } from './ports/audit-log-repository.js';
import type { AuditSinkRepository } from './ports/audit-sink-repository.js';
import type { CredentialRepository } from './ports/credential-repository.js';
import type { EventRepository } from './ports/event-repository.js';
import type { ExpiryNoticeQueue, ExpiryNoticeRepository } from './ports/expiry-notice-repository.js';
import type { PrincipalRepository } from './ports/principal-repository.js';
import type { RotationSecretRepository } from './ports/rotation-secret-repository.js';
import type { TokenRepository } from './ports/token-repository.js';
import type { VaultKeyRepository } from './ports/vault-key-repository.js';
import type { VaultRepository } from './ports/vault-repository.js';
import type { VersionRepository } from './ports/version-repository.js';
import type { WebhookDeliveryRepository } from './ports/webhook-delivery-repository.js';
import type { WebhookSubscriptionRepository } from './ports/webhook-subscription-repository.js';
import type { Tenant } from './types.js';

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
   * A fresh vault key wrapped by the root key (calls the provider). Its plaintext is zeroed, not
   * cached: the record is saved only if the caller's transaction commits, and the key's first use
   * unwraps what was saved.
   */
  createVaultKey(context: KeyContext): Promise<{ record: VaultKeyRecord }>;
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
//
// Tenant data is reached through one repository per table (one file each in `ports/`), and those
// only through the `TenantTx` that `RegistryStore.withTenant` hands out.

export type * from './ports/access-log-repository.js';
export type * from './ports/audit-log-repository.js';
export type * from './ports/audit-sink-repository.js';
export type * from './ports/credential-repository.js';
export type * from './ports/event-repository.js';
export type * from './ports/expiry-notice-repository.js';
export type * from './ports/principal-repository.js';
export type * from './ports/rotation-secret-repository.js';
export type * from './ports/token-repository.js';
export type * from './ports/vault-key-repository.js';
export type * from './ports/vault-repository.js';
export type * from './ports/version-repository.js';
export type * from './ports/webhook-delivery-repository.js';
export type * from './ports/webhook-subscription-repository.js';

/**
 * The tenant-scoped unit of work: every repository runs its statements inside the one transaction
 * that `withTenant` opened, as the runtime role, with the tenant set. Row-level security filters
 * every statement.
 */
export interface TenantTx {
  readonly tenantId: string;
  readonly principals: PrincipalRepository;
  readonly tokens: TokenRepository;
  readonly vaults: VaultRepository;
  readonly vaultKeys: VaultKeyRepository;
  readonly credentials: CredentialRepository;
  readonly versions: VersionRepository;
  readonly accessLog: AccessLogRepository;
  readonly events: EventRepository;
  readonly expiryNotices: ExpiryNoticeRepository;
  readonly webhooks: WebhookSubscriptionRepository;
  readonly deliveries: WebhookDeliveryRepository;
  readonly rotationSecrets: RotationSecretRepository;
  readonly auditLog: AuditLogRepository;
  readonly auditSinks: AuditSinkRepository;
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
export interface PlatformTx extends DeliveryQueue, ExpiryNoticeQueue {
  insertPlatformToken(t: { id: string; name: string; secretHash: Uint8Array }): Promise<void>;
  findPlatformToken(id: string): Promise<PlatformToken | null>;
  countPlatformTokens(): Promise<number>;
  /** Serializes bootstraps: held until the transaction ends. */
  lockPlatformTokens(): Promise<void>;
  insertTenant(t: { id: string; name: string }): Promise<Tenant>;
  findTenant(id: string): Promise<Tenant | null>;
  /** By name, then id; only the tenant named exactly `name` when it is given. */
  listTenants(limit: number, after?: { name: string; id: string }, name?: string): Promise<Tenant[]>;
  /**
   * Claims the next run of `job` for `holder` if it is due, and holds it for `leaseMs` by the
   * database's clock: answers the lease's end to exactly one caller until then, whichever instance
   * asks, and null to the others. One atomic statement, so nothing is held between calls and a
   * holder that dies just lets the lease lapse.
   */
  claimJobRun(job: ScheduledJob, holder: string, leaseMs: number): Promise<Date | null>;
  /**
   * Claims up to `limit` rotations due by the database's clock, across every tenant, oldest first:
   * each one's due time moves `leaseMs` ahead, so no other caller claims it meanwhile (a holder
   * that dies lets it come due again). Rows another transaction holds are skipped, not waited for.
   * Each answers the due time it had and the claim's time, both by the database's clock (for the
   * rotation-lag metric).
   */
  claimDueRotations(limit: number, leaseMs: number): Promise<ClaimedRotation[]>;
  /** Rotations due now by the database's clock and not claimed, across every tenant (one indexed count). */
  countDueRotations(): Promise<number>;
  /**
   * Up to `limit` tenants, by id after `afterId`, with access-log rows their audit log has not
   * sealed yet (rows whose transactions have all ended). One index probe per tenant.
   */
  tenantsWithUnsealedRows(limit: number, afterId?: string): Promise<string[]>;
  /**
   * Up to `limit` tenants, by id after `afterId` (only `tenantId`, when given), whose sealed
   * leaves or newest checkpoint the audit sink `sink` has not acknowledged yet.
   */
  tenantsBehindSink(
    sink: string,
    options: { tenantId?: string; limit: number; afterId?: string },
  ): Promise<string[]>;
  /** Sealed leaves the audit sink has not acknowledged yet, summed over tenants (only `tenantId`'s, when given). */
  auditSinkLag(sink: string, tenantId?: string): Promise<number>;
  /** Up to `limit` of the sinks tenants added for themselves, by tenant and id: ids only. */
  tenantAuditSinks(limit: number): Promise<Array<{ tenantId: string; id: string }>>;
}

/** A due rotation claimed by `PlatformTx.claimDueRotations`. */
export interface ClaimedRotation {
  tenantId: string;
  credentialId: string;
  /** When it was due, before the claim moved it. */
  dueAt: Date;
  /** The database's `now()` at the claim. */
  claimedAt: Date;
}

/** A pending webhook delivery claimed by `PlatformTx.claimDueDeliveries`. */
export interface ClaimedDelivery {
  tenantId: string;
  deliveryId: string;
}

/** The platform role's side of webhook delivery: due ids across tenants, and nothing else. */
export interface DeliveryQueue {
  /**
   * Claims up to `limit` pending deliveries due at `now` (the registry's clock), across every
   * tenant, oldest first: each one's due time moves to `leaseUntil`, so no other caller claims it
   * meanwhile, and a holder that dies lets it come due again. Rows another transaction holds are
   * skipped, not waited for.
   */
  claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]>;
  /** Pending deliveries across every tenant: the outbox's depth. */
  countPendingDeliveries(): Promise<number>;
}

export interface RegistryStore {
  /**
   * The only way to touch tenant data: one transaction, as the runtime role, tenant set first.
   * Commits when `fn` resolves, rolls back when it throws. Never await a slow call (key provider,
   * network) inside `fn`: the embedded store has one connection.
   */
  withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T>;
  /**
   * `withTenant` for work that only reads and appends access-log rows (a reveal): concurrent
   * callers of one tenant may share one transaction (group commit). Each caller is answered only
   * once the transaction holding its rows has committed; a caller whose `fn` throws leaves no row.
   * If the shared transaction fails, every caller fails, or `fn` runs again alone. Any other
   * write is refused. Optional: without it, `withTenant` is used.
   */
  withTenantShared?<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T>;
  withPlatform<T>(fn: (tx: PlatformTx) => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------------
// The audit log's tree and checkpoints

/** A Merkle tree being appended to (RFC 9162), from its frontier. */
export interface MerkleTreeBuilder {
  readonly size: number;
  /** Appends a leaf hash; returns the perfect subtrees it completed that are stored (not every level is). */
  append(leafHash: Uint8Array): Array<{ level: number; index: number; hash: Uint8Array }>;
  root(): Uint8Array;
  /** The roots of the perfect subtrees, largest first. */
  frontier(): Uint8Array[];
}

/** The nodes a proof is made of, in order: each one hash of stored nodes (see `crypto/merkle.ts`). */
export type ProofPlan = Array<Array<{ level: number; index: number }>>;

/**
 * The hashing and signing of the tenants' audit logs: RFC 9162 trees and C2SP signed checkpoints
 * with Ed25519. Implemented in `crypto/` and wired by `main.ts`.
 */
export interface AuditLogCrypto {
  /** The root of the empty tree. */
  readonly emptyRoot: Uint8Array;
  /** A builder resumed at `size` leaves from its frontier (as `MerkleTreeBuilder.frontier` gave it). */
  resume(size: number, frontier: readonly Uint8Array[]): MerkleTreeBuilder;
  inclusionPlan(index: number, treeSize: number): ProofPlan;
  consistencyPlan(from: number, to: number): ProofPlan;
  /** Every distinct stored node (a leaf, or a node of a stored level) some plans need, for one read. */
  planNodes(plans: readonly ProofPlan[]): Array<{ level: number; index: number }>;
  /** The proof of each plan, from the stored nodes; throws if one it needs is not among them. */
  proofs(
    plans: readonly ProofPlan[],
    nodes: ReadonlyArray<{ level: number; index: number; hash: Uint8Array }>,
  ): Uint8Array[][];
  /** A fresh Ed25519 key pair: SPKI PEM public, PKCS#8 PEM private. */
  generateSigningKey(): { publicKeyPem: string; privateKeyPem: string };
  /** The signed note of a checkpoint, signed by `privateKeyPem` under the key name `origin`. */
  signCheckpoint(
    checkpoint: { origin: string; treeSize: number; rootHash: Uint8Array; time: Date },
    privateKeyPem: string,
  ): string;
}

// ---------------------------------------------------------------------------------------------
// Audit sinks

/**
 * One sealed access-log row as a sink receives it: the row's fields (never a value or a token:
 * the row holds none), its leaf index and leaf hash (base64), so a receiver can check it against
 * a checkpoint. `missing` (and no row fields) when the leaf's row is gone from the table: tampering
 * the sink reports rather than hides.
 */
export type AuditSinkAccessRecord = { type: 'access'; leafIndex: number; leafHash: string } & (
  | AuditLeafEntry
  | { tenantId: string; id: string; missing: true }
);

/** A signed checkpoint as a sink receives it, after the leaves it covers: for witnesses. */
export interface AuditSinkCheckpointRecord {
  type: 'checkpoint';
  tenantId: string;
  treeSize: number;
  /** base64 */
  rootHash: string;
  keyId: string;
  /** The signed note (C2SP tlog-checkpoint), the text a verifier reads. */
  checkpoint: string;
}

export type AuditSinkRecord = AuditSinkAccessRecord | AuditSinkCheckpointRecord;

/**
 * Where sealed access-log rows are copied to (a file, syslog, an HTTP collector, stdout), like
 * Vault's audit devices. Implemented in `sinks/` and wired by `main.ts`. The database log stays
 * the primary record: a sink is fed after commit and sealing, never on a reveal's path.
 */
export interface AuditSink {
  /** The operator's name for it, the key of its cursors: `[a-z0-9][a-z0-9_-]*`. */
  readonly name: string;
  /** Only this tenant's rows, when set. (Default: every tenant's) */
  readonly tenantId?: string;
  /**
   * Delivers one tenant's records, in order. Resolves only once the sink has them (written and
   * flushed, or answered 2xx): the cursor moves only then. Rejects otherwise; the records are
   * sent again later, so a receiver may see one twice (at least once), never a gap.
   */
  send(records: readonly AuditSinkRecord[]): Promise<void>;
  /** Lets go of connections and files; called once, at shutdown. */
  close?(): Promise<void> | void;
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/** One signed message to one receiver, as the gateway sends it (Standard Webhooks). */
export interface WebhookMessage {
  /** Sent as `webhook-id`, the same on every attempt: the event's id. */
  readonly id: string;
  readonly type: string;
  readonly timestamp: Date;
  /** Ids and metadata only. */
  readonly data: unknown;
}

/** What one attempt came to; nothing the receiver sent but its status. */
export interface WebhookAttempt {
  ok: boolean;
  status?: number;
  /** A stable code and a short message, safe to store and show. */
  error?: { code: string; message: string };
}

/**
 * How the registry talks to webhook receivers: the URL policy, the signed, SSRF-guarded POST, the
 * retry schedule and the secret format. Implemented in `events/` and wired by `main.ts`.
 */
export interface WebhookGateway {
  /** Why `url` would be refused, or null; the reason never quotes the URL. */
  checkUrl(url: string): string | null;
  /** A new `whsec_…` receiver secret. */
  generateSecret(): string;
  /** One attempt; whatever the receiver does becomes a result, never an exception. */
  deliver(
    to: { url: string; secrets: readonly string[] },
    message: WebhookMessage,
    options?: { signal?: AbortSignal },
  ): Promise<WebhookAttempt>;
  /** When to try again after attempt `attempts` failed, or null to give up. */
  nextAttemptAt(history: { attempts: number; firstAttemptAt: Date; now: Date }): Date | null;
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
