/**
 * The shapes of the `/v1` HTTP API as a client sees them: JSON, camelCase, timestamps as ISO 8601
 * strings (not `Date`s, unlike the core types, since that is what arrives on the wire).
 */
import type { AccessAction, AccessOutcome, CredentialType, Role } from '../core/types.js';

/** An instant sent to the server: an ISO 8601 string, or a `Date` (sent as its ISO form). */
export type Instant = string | Date;

/** One page of a listing; pass `nextCursor` back as `cursor` for the next one (null: last page). */
export interface ApiPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Page options of every listing. */
export interface PageQuery {
  /** Page size. (Default: 100), at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface TenantResource {
  id: string;
  name: string;
  createdAt: string;
}

export interface PrincipalResource {
  id: string;
  tenantId: string;
  name: string;
  kind: 'user' | 'service';
  createdAt: string;
}

/** An API token as listed: its secret is only ever returned once, by {@link IssuedToken}. */
export interface TokenResource {
  id: string;
  tenantId: string;
  principalId: string;
  role: Role;
  /** The one vault the token is limited to, if any. */
  vaultId: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  createdBy: string;
  createdAt: string;
}

/** A newly created API token, with its bearer secret (shown once; keep it safe). */
export interface IssuedToken {
  token: string;
  id: string;
  tenantId: string;
  principalId: string;
  role: Role;
  vaultId: string | null;
  expiresAt: string | null;
}

export interface VaultResource {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  maxVersions: number;
  currentKeyVersion: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** A credential's metadata; the API never returns a value here, only through a reveal. */
export interface CredentialResource {
  id: string;
  tenantId: string;
  vaultId: string;
  name: string;
  type: CredentialType;
  metadata: Record<string, unknown>;
  currentVersion: number;
  expiresAt: string | null;
  rotationSchedule: string | null;
  isActive: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  lastRotatedAt: string | null;
  deletedAt: string | null;
  purgeAfter: string | null;
}

export interface CredentialVersionResource {
  credentialId: string;
  version: number;
  vaultKeyVersion: number;
  createdBy: string;
  createdAt: string;
  /** Set once the retention policy removed this version's ciphertext. */
  destroyedAt: string | null;
}

/** Each credential type's value, as the server validates it on write. */
export interface CredentialValues {
  api_key: string;
  bearer_token: string;
  ssh_key: string;
  connection_string: string;
  basic_auth: { username: string; password: string };
  oauth2_client: { client_id: string; client_secret: string; token_url?: string; scopes?: string[] };
  oauth2_token: { access_token: string; refresh_token?: string; expires_at?: string };
  certificate: { cert_pem: string; key_pem: string; chain_pem?: string };
  generic: Record<string, unknown>;
}

/** Any credential's value. */
export type CredentialValue = CredentialValues[CredentialType];

/** The types whose value is a plain string; every other type's value is a JSON object. */
export const STRING_VALUE_TYPES: readonly CredentialType[] = Object.freeze([
  'api_key',
  'bearer_token',
  'ssh_key',
  'connection_string',
]);

export interface RevealedCredentialResource {
  credentialId: string;
  name: string;
  type: CredentialType;
  version: number;
  value: CredentialValue;
  expiresAt: string | null;
}

export interface RotationResult {
  /** The new current version. */
  version: number;
  credential: CredentialResource;
}

export interface AuditEventResource {
  id: string;
  tenantId: string;
  occurredAt: string;
  credentialId: string | null;
  vaultId: string | null;
  action: AccessAction;
  outcome: AccessOutcome;
  actor: string;
  reason: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** The id the caller gave its request (`X-Request-Id`), when it gave one. */
  clientRequestId: string | null;
  version: number | null;
  /** The error code of a refused or failed attempt. */
  errorCode: string | null;
}

export interface CreateTenantAdminTokenBody {
  /** Name of the principal created for this first administrator. */
  name: string;
  /** The only role this endpoint grants. (Default: 'admin') */
  role?: 'admin';
}

export interface CreatePrincipalBody {
  name: string;
  kind: 'user' | 'service';
}

export interface CreateTokenBody {
  principalId: string;
  role: Role;
  /** Limit the token to one vault. */
  vaultId?: string;
  expiresAt?: Instant;
}

export interface CreateVaultBody {
  name: string;
  description?: string;
  /** How many versions of each credential keep their ciphertext. (Default: 10) */
  maxVersions?: number;
}

export interface StoreCredentialBody<T extends CredentialType = CredentialType> {
  name: string;
  type: T;
  value: CredentialValues[T];
  /** Stored in clear and returned by listings: never put secrets here. */
  metadata?: Record<string, unknown>;
  expiresAt?: Instant;
  /** ISO 8601 duration in weeks, days or hours, e.g. `P90D`. */
  rotationSchedule?: string;
}

export interface ListCredentialsQuery extends PageQuery {
  /** Include soft-deleted credentials. (Default: false) */
  includeDeleted?: boolean;
}

/** At least one field; `null` clears `expiresAt` or `rotationSchedule`. */
export interface UpdateCredentialBody {
  metadata?: Record<string, unknown>;
  expiresAt?: Instant | null;
  rotationSchedule?: string | null;
  /** Deactivate (false) or reactivate (true). */
  active?: boolean;
}

export interface DeleteCredentialOptions {
  /** Days during which the credential can be restored. (Default: 7), 1 to 30. */
  recoveryWindowDays?: number;
}

export interface RevealBody {
  /** Why the value is needed; recorded in the access log. */
  reason: string;
  /** A past version; the current one when absent. */
  version?: number;
}

export interface RotateBody<V extends CredentialValue = CredentialValue> {
  value: V;
  /** Check-and-set: the server answers VERSION_MISMATCH unless this is still the current version. */
  expectedVersion?: number;
  /** A new expiry (null clears it); unchanged when absent. */
  expiresAt?: Instant | null;
}

/** Filters of the access log; every one optional, newest entries first. */
export interface AuditQuery extends PageQuery {
  credentialId?: string;
  vaultId?: string;
  actor?: string;
  action?: AccessAction;
  outcome?: AccessOutcome;
  /** Entries at or after this instant. */
  from?: Instant;
  /** Entries before this instant. */
  to?: Instant;
}
