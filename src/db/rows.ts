import type { CredentialState, RevealState, VaultKeyRecord } from '../core/ports.js';
import type {
  AccessLogEntry,
  ApiToken,
  Credential,
  CredentialRotation,
  CredentialVersion,
  Principal,
  RotationState,
  Tenant,
  Vault,
} from '../core/types.js';
import { DEFAULT_EXPIRY_ALERTS } from '../core/types.js';

/** Row shapes differ slightly between `pg` (bytea as Buffer) and PGlite (Uint8Array); these even them out. */
type Row = Record<string, unknown>;

const date = (v: unknown) => v as Date;
const maybeDate = (v: unknown) => (v == null ? null : (v as Date));
const maybeString = (v: unknown) => (v == null ? null : String(v));
/** A jsonb array of alert windows, or null. */
const maybeWindows = (v: unknown): string[] | null => (Array.isArray(v) ? v.map(String) : null);
export const bytes = (v: unknown): Buffer | null =>
  v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);

export const toTenant = (r: Row): Tenant => ({
  id: String(r.tenant_id),
  name: String(r.name),
  createdAt: date(r.created_at),
});

export const toPrincipal = (r: Row): Principal => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  name: String(r.name),
  kind: r.kind as Principal['kind'],
  createdAt: date(r.created_at),
});

export const toVault = (r: Row): Vault => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  name: String(r.name),
  description: maybeString(r.description),
  maxVersions: Number(r.max_versions),
  currentKeyVersion: Number(r.current_key_version),
  expiryAlerts: maybeWindows(r.expiry_alerts),
  createdBy: String(r.created_by),
  createdAt: date(r.created_at),
  updatedAt: date(r.updated_at),
});

/** A wrapped key's columns (of `vault_keys`, or joined from it), with the context it was read under. */
export const toVaultKeyRecord = (
  tenantId: string,
  vaultId: string,
  version: number,
  r: Row,
): VaultKeyRecord => ({
  tenantId,
  vaultId,
  vaultKeyVersion: version,
  wrapped: {
    provider: String(r.provider),
    ciphertext: bytes(r.wrapped_key)!,
    providerKeyId: String(r.provider_key_id),
  },
});

export const toCredentialState = (r: Row): CredentialState => ({
  id: String(r.id),
  vaultId: String(r.vault_id),
  name: String(r.name),
  type: r.type as Credential['type'],
  currentVersion: Number(r.current_version),
  expiresAt: maybeDate(r.expires_at),
  isActive: Boolean(r.is_active),
  deletedAt: maybeDate(r.deleted_at),
  purgeAfter: maybeDate(r.purge_after),
});

export const toRevealState = (r: Row): RevealState => ({
  ...toCredentialState(r),
  pendingVersion: r.pending_version == null ? null : Number(r.pending_version),
  previousVersion: r.previous_version == null ? null : Number(r.previous_version),
  rotator:
    r.rotator_type == null
      ? null
      : {
          type: String(r.rotator_type),
          dueAt: maybeDate(r.next_rotation_at),
          state: r.rotation_state as RotationState,
        },
});

export const toCredential = (r: Row): Credential => ({
  ...toCredentialState(r),
  tenantId: String(r.tenant_id),
  metadata: (r.metadata ?? {}) as Record<string, unknown>,
  rotationSchedule: maybeString(r.rotation_schedule),
  createdBy: String(r.created_by),
  createdAt: date(r.created_at),
  updatedAt: date(r.updated_at),
  lastRotatedAt: maybeDate(r.last_rotated_at),
  rotation: toRotation(r),
  expiryAlerts: maybeWindows(r.expiry_alerts),
  effectiveExpiryAlerts: maybeWindows(r.expiry_alerts) ??
    maybeWindows(r.vault_expiry_alerts) ?? [...DEFAULT_EXPIRY_ALERTS],
  lastExpiryAlert: maybeString(r.last_expiry_alert),
});

const toRotation = (r: Row): CredentialRotation | null => {
  if (r.rotation == null) return null;
  const settings = r.rotation as { schedule?: string; rotator: CredentialRotation['rotator'] };
  return {
    schedule: settings.schedule ?? null,
    rotator: settings.rotator,
    nextRotationAt: maybeDate(r.next_rotation_at),
    state: r.rotation_state as RotationState,
    lastError: (r.last_rotation_error ?? null) as CredentialRotation['lastError'],
    attempts: Number(r.rotation_attempts ?? 0),
    pendingVersion: r.pending_version == null ? null : Number(r.pending_version),
    previousVersion: r.previous_version == null ? null : Number(r.previous_version),
    runningUntil: maybeDate(r.rotation_lease_until),
  };
};

export const toVersion = (r: Row): CredentialVersion => ({
  credentialId: String(r.credential_id),
  version: Number(r.version),
  vaultKeyVersion: Number(r.vault_key_version),
  createdBy: String(r.created_by),
  createdAt: date(r.created_at),
  destroyedAt: maybeDate(r.destroyed_at),
});

export const toAccessLogEntry = (r: Row): AccessLogEntry => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  occurredAt: date(r.occurred_at),
  credentialId: maybeString(r.credential_id),
  vaultId: maybeString(r.vault_id),
  action: r.action as AccessLogEntry['action'],
  outcome: r.outcome as AccessLogEntry['outcome'],
  actor: String(r.actor),
  actorName: maybeString(r.actor_name),
  reason: maybeString(r.reason),
  sourceIp: maybeString(r.source_ip),
  userAgent: maybeString(r.user_agent),
  requestId: maybeString(r.request_id),
  clientRequestId: maybeString(r.client_request_id),
  version: r.version == null ? null : Number(r.version),
  errorCode: maybeString(r.error_code),
});

export const toApiToken = (r: Row): ApiToken => ({
  id: String(r.id),
  tenantId: String(r.tenant_id),
  principalId: String(r.principal_id),
  role: r.role as ApiToken['role'],
  vaultId: maybeString(r.vault_id),
  expiresAt: maybeDate(r.expires_at),
  revokedAt: maybeDate(r.revoked_at),
  createdBy: String(r.created_by),
  createdAt: date(r.created_at),
});
