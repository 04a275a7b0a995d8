/**
 * Domain types of the registry.
 *
 * Glossary
 * - **tenant**: one customer of the platform. Every row carries its `tenantId`; PostgreSQL row-level
 *   security keeps tenants apart, not this code.
 * - **principal**: a user or service of a tenant that acts on credentials.
 * - **actor**: the name recorded in the access log for whoever made a call (a principal id or name).
 * - **vault**: a named group of credentials of one tenant, with its own vault key.
 * - **credential**: a named secret (API key, OAuth client, certificate, …) in a vault. Its value is
 *   never stored in clear; its metadata is not encrypted and must not hold secrets.
 * - **version**: one value of a credential. Rotation adds a version; older ones are kept up to the
 *   vault's `maxVersions`, then destroyed (metadata kept, ciphertext removed).
 * - **reveal**: returning a credential's value to a caller; always with a reason, always logged first.
 * - **root key**: the key-encryption key at the top, held by a key provider (local file, KMS, HSM).
 * - **vault key**: a random 256-bit key per vault (versioned), stored only wrapped by the root key.
 * - **data key**: a random 256-bit key per credential version, stored only wrapped by the vault key;
 *   it encrypts the value (AES-256-GCM).
 * - **access log**: the append-only record of every attempt on a credential or vault, whatever its outcome.
 * - **API token**: a bearer secret for the HTTP API, bound to one tenant, one principal and one role
 *   (optionally to one vault); or a platform token, which manages tenants only.
 * - **role**: what a token may do in its tenant: `admin`, `writer`, `reader` or `auditor`.
 */

/** The expiry alert windows of a credential whose vault sets none: 30, 7 and 1 day before it expires. */
export const DEFAULT_EXPIRY_ALERTS: readonly string[] = Object.freeze(['P30D', 'P7D', 'P1D']);

export const CREDENTIAL_TYPES = [
  'api_key',
  'bearer_token',
  'basic_auth',
  'oauth2_client',
  'oauth2_token',
  'certificate',
  'ssh_key',
  'connection_string',
  'generic',
] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export const ROLES = ['admin', 'writer', 'reader', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const ACCESS_ACTIONS = [
  'store',
  'reveal',
  'rotate',
  'update',
  'deactivate',
  'reactivate',
  'delete',
  'restore',
  'purge',
  'vault_create',
  'vault_delete',
  'key_create',
  'key_rotate',
  'key_rewrap',
  'key_destroy',
  'token_create',
  'token_revoke',
  'token_list',
  'principal_create',
  'principal_list',
  'read',
  'audit_read',
  /** A platform route called with a tenant token: refused, and logged in that tenant. */
  'platform_access',
  'webhook_create',
  'webhook_delete',
  'webhook_test',
  /** A disabled webhook subscription enabled again. */
  'webhook_enable',
  /** A vault's settings changed (its default expiry alerts). */
  'vault_update',
  /** The scheduler's attempt at sending a credential's expiry notice; only a failure is logged. */
  'expiry_alert',
  /** A tenant's admin added one of the tenant's own audit sinks, or removed one. */
  'audit_sink_create',
  'audit_sink_delete',
] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

export const ACCESS_OUTCOMES = [
  'granted',
  'denied',
  'not_found',
  'invalid',
  'expired',
  'inactive',
  'conflict',
  'error',
] as const;
export type AccessOutcome = (typeof ACCESS_OUTCOMES)[number];

/** Who is calling and from where; recorded on every access-log row. */
export interface RequestContext {
  /** Principal id or name; required, 1–200 characters. */
  actor: string;
  sourceIp?: string;
  userAgent?: string;
  /** The server's id of the request. */
  requestId?: string;
  /** The id the caller gave the request (`X-Request-Id`), kept beside the server's. */
  clientRequestId?: string;
  /**
   * Limits the call to one vault (a vault-scoped token): anything elsewhere answers as a missing id
   * would, and is logged as denied.
   */
  vaultScope?: string;
  /**
   * The role of the caller's token: what it may do (see `authorization.ts`). Absent for the
   * library's in-process callers, which are trusted like the tenant's administrator.
   */
  role?: Role;
}

export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

export interface Principal {
  id: string;
  tenantId: string;
  name: string;
  kind: 'user' | 'service';
  createdAt: Date;
}

export interface Vault {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  /** How many versions of each credential keep their ciphertext. (Default: 10) */
  maxVersions: number;
  /** The vault-key version new credential versions are encrypted under. */
  currentKeyVersion: number;
  /**
   * The expiry alert windows of its credentials that set none of their own (ISO 8601 durations);
   * null: {@link DEFAULT_EXPIRY_ALERTS}.
   */
  expiryAlerts: string[] | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface Credential {
  id: string;
  tenantId: string;
  vaultId: string;
  name: string;
  type: CredentialType;
  metadata: Record<string, unknown>;
  currentVersion: number;
  expiresAt: Date | null;
  rotationSchedule: string | null;
  isActive: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  lastRotatedAt: Date | null;
  /** Rotation by a rotator, when one is set (see `docs/rotation.md`); null otherwise. */
  rotation: CredentialRotation | null;
  /**
   * Its own expiry alert windows (ISO 8601 durations before `expiresAt`, each sent once as
   * `credential.expiring`); `[]` turns them off; null: it inherits its vault's.
   */
  expiryAlerts: string[] | null;
  /** The windows in effect: its own, else its vault's, else {@link DEFAULT_EXPIRY_ALERTS}. */
  effectiveExpiryAlerts: string[];
  /** The narrowest window already sent for the current `expiresAt` (`expired` once it expired); null: none. */
  lastExpiryAlert: string | null;
  /** Set while soft-deleted; the credential can be restored until `purgeAfter`. */
  deletedAt: Date | null;
  purgeAfter: Date | null;
}

/** A version's stage: `current` is what a reveal answers; `pending` and `previous` surround a rotation. */
export const VERSION_STAGES = ['current', 'pending', 'previous'] as const;
export type VersionStage = (typeof VERSION_STAGES)[number];

export const ROTATION_STATES = ['idle', 'rotating', 'failed', 'needs_reauthorization'] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

/** A credential's rotation: its settings (never a secret) and where it stands. */
export interface CredentialRotation {
  /** An ISO 8601 duration (`P30D`) or a cron expression; absent when the rotator keeps its own clock. */
  schedule: string | null;
  /** `{ type, …its settings }`: ids and options only. */
  rotator: { type: string } & Record<string, unknown>;
  /** When the scheduler rotates it next; null when it does not by itself. */
  nextRotationAt: Date | null;
  state: RotationState;
  /** The last failure, with a stable code and a message without any secret. */
  lastError: { code: string; message: string; at: string } | null;
  /** Failed attempts since the last success. */
  attempts: number;
  /** A version a rotation made and has not promoted yet (the `pending` stage). */
  pendingVersion: number | null;
  /** The version that was current before the last promotion (the `previous` stage). */
  previousVersion: number | null;
  /** While a run holds the rotation: until when (another may take over after). */
  runningUntil: Date | null;
}

export interface CredentialVersion {
  credentialId: string;
  version: number;
  vaultKeyVersion: number;
  createdBy: string;
  createdAt: Date;
  /** Set once the version's ciphertext was removed by the retention policy. */
  destroyedAt: Date | null;
}

/** A version as listed: with the stages it is at (`current`, `pending`, `previous`); none when older. */
export interface ListedVersion extends CredentialVersion {
  /** The name of the principal whose id is `createdBy`; null when `createdBy` is no principal's id. */
  createdByName: string | null;
  stages: VersionStage[];
}

export interface RevealedCredential {
  credentialId: string;
  name: string;
  type: CredentialType;
  version: number;
  value: unknown;
  expiresAt: Date | null;
}

export interface AccessLogEntry {
  id: string;
  tenantId: string;
  occurredAt: Date;
  credentialId: string | null;
  vaultId: string | null;
  action: AccessAction;
  outcome: AccessOutcome;
  actor: string;
  /**
   * The name of the principal whose id is `actor`, as it is now; null when `actor` is no principal's
   * id (`platform:…`, `(anonymous)`, an in-process caller's own name).
   */
  actorName: string | null;
  reason: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  clientRequestId: string | null;
  version: number | null;
  /** The error code of a refused or failed attempt. */
  errorCode: string | null;
}

/** An API token as listed: never its secret, which is shown once, at creation. */
export interface ApiToken {
  id: string;
  tenantId: string;
  principalId: string;
  role: Role;
  /** The one vault the token is limited to, if any. */
  vaultId: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdBy: string;
  createdAt: Date;
}

/** Who a verified token speaks for. */
export type Caller =
  | { kind: 'platform'; tokenId: string; name: string }
  | {
      kind: 'tenant';
      tenantId: string;
      tokenId: string;
      principalId: string;
      role: Role;
      vaultId: string | null;
    };

/** One page of a keyset-paginated listing; pass `nextCursor` back to get the next page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
