/**
 * The shapes of the `/v1` HTTP API as a client sees them, derived from the zod schemas the routes
 * validate and encode with (`src/http/schemas.ts`, `src/http/request-schemas.ts`), so the two
 * cannot drift. Type-only imports: the client loads neither zod nor anything of `http/` at run time.
 *
 * - Responses are each schema's encoded side (`z.input`): JSON, camelCase, timestamps as ISO 8601
 *   strings (not `Date`s, unlike the core types, since that is what arrives on the wire).
 * - Bodies are each schema's input, where an instant may also be a `Date` (JSON sends its ISO form).
 * - Queries are what the server reads once parsed, as the client passes them: it turns numbers,
 *   booleans and `Date`s into query-string text.
 *
 * Credential values ({@link CredentialValues}) come from the core's value schemas: the server takes
 * any JSON there and the core checks it against the credential's type.
 */
import type { z } from 'zod';
import type { CredentialType } from '../core/types.js';
import type { VALUE_SCHEMAS } from '../core/validation.js';
import type * as request from '../http/request-schemas.js';
import type * as response from '../http/schemas.js';

/** An instant sent to the server: an ISO 8601 string, or a `Date` (sent as its ISO form). */
export type Instant = string | Date;

/** Where the server reads a `Date`, the client may send an {@link Instant}. */
type Sendable<In, Out> = Date extends Out ? In | Date : In;
/** A request body as the client sends it. */
type BodyOf<S extends z.ZodType> = {
  [K in keyof z.input<S>]: K extends keyof z.output<S>
    ? Sendable<z.input<S>[K], z.output<S>[K]>
    : z.input<S>[K];
};
/** A query value as the client passes it: a `Date` as an {@link Instant}, a 'true' | 'false' flag as a boolean. */
type QueryValue<T> = T extends Date ? Instant : T extends 'true' | 'false' ? boolean : T;
/** A query string as the client passes it. */
type QueryOf<S extends z.ZodType> = { [K in keyof z.output<S>]: QueryValue<z.output<S>[K]> };

/** One page of a listing; pass `nextCursor` back as `cursor` for the next one (null: last page). */
export interface ApiPage<T> extends Omit<z.input<ReturnType<typeof response.page>>, 'items'> {
  items: T[];
}

/** Page options of every listing: `limit` (Default: 100, at most 1000) and the previous page's `nextCursor`. */
export type PageQuery = QueryOf<typeof request.pageQuery>;

/** `GET /v1/tenants`: page options, and `name` to find the one tenant of that exact name. */
export type ListTenantsQuery = QueryOf<typeof request.listTenantsQuery>;

/** `GET /v1/vaults`: page options, and `name` (exact) or `prefix` to list only the vaults so named. */
export type ListVaultsQuery = QueryOf<typeof request.listVaultsQuery>;

export type TenantResource = z.input<typeof response.tenant>;

/**
 * What the calling token is (`GET /v1/whoami`): a platform token, or a tenant token with its role,
 * its vault scope and what it may do (`capabilities`, e.g. `credentials:reveal`).
 */
export type WhoamiResource = z.input<typeof response.whoami>;

export type PrincipalResource = z.input<typeof response.principal>;

/**
 * An API token as listed: its secret is only ever returned once, by {@link IssuedToken}. A
 * `vaultId` is the one vault the token is limited to.
 */
export type TokenResource = z.input<typeof response.apiToken>;

/** A newly created API token, with its bearer secret (shown once; keep it safe). */
export type IssuedToken = z.input<typeof response.createdToken>;

export type VaultResource = z.input<typeof response.vault>;

/** A credential's metadata; the API never returns a value here, only through a reveal. */
export type CredentialResource = z.input<typeof response.credential>;

/**
 * What storing or updating a credential answers: its metadata, and in `rotation.signingSecret` the
 * signing secret of a `webhook` rotator when this call made one (shown once: give it to the endpoint).
 */
export type StoredCredentialResource = z.input<typeof response.credentialWithSigningSecret>;

/**
 * The answer of `POST /v1/credentials/{id}/rotation/signing-secret`: the new signing secret (shown
 * once), and until when requests are also signed with the one it replaced.
 */
export type ReplacedSigningSecret = z.input<typeof response.replacedSigningSecret>;

/** A stored version; `destroyedAt` is set once the retention policy removed its ciphertext. */
export type CredentialVersionResource = z.input<typeof response.version>;

/** The answer of `GET /v1/credentials/{id}/versions`. */
export type CredentialVersionList = z.input<typeof response.versionList>;

/**
 * Each credential type's value, as the server validates it on write: derived from the core's
 * schemas (`VALUE_SCHEMAS`), except `generic`, any JSON object (the core bounds it before its shape).
 */
export type CredentialValues = {
  [T in Exclude<CredentialType, 'generic'>]: z.input<(typeof VALUE_SCHEMAS)[T]>;
} & { generic: Record<string, unknown> };

/** Any credential's value. */
export type CredentialValue = CredentialValues[CredentialType];

/** The types whose value is a plain string; every other type's value is a JSON object. */
export const STRING_VALUE_TYPES: readonly CredentialType[] = Object.freeze([
  'api_key',
  'bearer_token',
  'ssh_key',
  'connection_string',
]);

/** A revealed credential: its value, typed by {@link CredentialValues}. */
export interface RevealedCredentialResource extends Omit<z.input<typeof response.revealed>, 'value'> {
  value: CredentialValue;
}

/** The answer of a rotation: `version` is the new current version. */
export type RotationResult = z.input<typeof response.rotationResult>;

/**
 * An access-log entry. `clientRequestId` is the id the caller gave its request (`X-Request-Id`),
 * when it gave one; `errorCode` the error code of a refused or failed attempt.
 */
export type AuditEventResource = z.input<typeof response.accessLogEntry>;

/** The answer of `GET /v1/audit/keys`: the tenant's checkpoint keys, current and retired. */
export type AuditKeysResource = z.input<typeof response.auditKeys>;

/** The answer of `POST /v1/audit/keys/rotate`: the new checkpoint key. */
export type AuditKeyRotationResource = z.input<typeof response.auditKeyRotation>;

/** The answer of `GET /v1/audit/checkpoint`: a signed checkpoint; `checkpoint` is the note `credreg audit verify` reads. */
export type AuditCheckpointResource = z.input<typeof response.auditCheckpoint>;

/** The answer of `GET /v1/audit/proof`. */
export type AuditInclusionProofResource = z.input<typeof response.auditInclusionProof>;

/** The answer of `GET /v1/audit/consistency`. */
export type AuditConsistencyProofResource = z.input<typeof response.auditConsistencyProof>;

/** The answer of `GET /v1/audit/leaves`: leaves in order, each with its row (null when gone) and proof. */
export type AuditLeavesPage = z.input<typeof response.auditLeaves>;

/** The answer of `GET /v1/vaults/{id}/keys`: each vault-key version and how many data keys use it. */
export type VaultKeyStatus = z.input<typeof response.vaultKeyStatus>;

/** The answer of `POST /v1/vaults/{id}/keys/rotate`: the new vault-key version. */
export type VaultKeyRotation = z.input<typeof response.vaultKeyRotation>;

/** The answer of `POST /v1/vaults/{id}/keys/rewrap`: data keys moved, and those still to move. */
export type RewrapResult = z.input<typeof response.rewrapResult>;

/** The answer of `POST /v1/keys/rotate-root`: vault keys re-wrapped, and those no root key could unwrap. */
export type RootRotationResult = z.input<typeof response.rootRotationResult>;

/**
 * The answer of `GET /v1/keys/root`: which root keys wrap the vault keys; `remaining` counts the
 * vault keys not under the current one.
 */
export type RootKeyStatus = z.input<typeof response.rootKeyStatus>;

/**
 * A webhook subscription as listed: never its secret, which only {@link CreatedWebhookResource}
 * holds. `events` null: every event type; `disabledAt` is set once repeated failed deliveries
 * disabled it (`enableWebhook` enables it again).
 */
export type WebhookResource = z.input<typeof response.webhookSubscription>;

/** A new subscription, with its `whsec_…` signing secret (shown once: give it to the receiver). */
export type CreatedWebhookResource = z.input<typeof response.createdWebhook>;

/** One event's delivery to one subscription: `pending`, `delivered` or `failed`, and its last attempt. */
export type WebhookDeliveryResource = z.input<typeof response.webhookDelivery>;

/** The answer of `POST /v1/webhooks/{id}/test`: the `webhook.test` event's id, sent as `webhook-id`. */
export type WebhookTestResult = z.input<typeof response.webhookTest>;

/** `POST /v1/tenants`. */
export type CreateTenantBody = BodyOf<typeof request.createTenantBody>;

/**
 * `POST /v1/tenants/{tenantId}/tokens`: `name` names the principal created for this
 * administrator; `role` is the token's role (Default: 'admin').
 */
export type CreateTenantAdminTokenBody = BodyOf<typeof request.createTenantAdminTokenBody>;

export type CreatePrincipalBody = BodyOf<typeof request.createPrincipalBody>;

/** A new token for a principal; `vaultId` limits it to one vault. */
export type CreateTokenBody = BodyOf<typeof request.createTokenBody>;

/** `maxVersions`: how many versions of each credential keep their ciphertext. (Default: 10) */
export type CreateVaultBody = BodyOf<typeof request.createVaultBody>;

/**
 * `PATCH /v1/vaults/{id}`: `expiryAlerts`, the expiry alert windows of its credentials that set none
 * (distinct ISO 8601 durations, at most 10; `[]` for none; null: back to `["P30D","P7D","P1D"]`).
 */
export type UpdateVaultBody = BodyOf<typeof request.updateVaultBody>;

/** `DELETE /v1/vaults/{id}`: `force` deletes a vault that still holds credentials. (Default: false) */
export type DeleteVaultOptions = QueryOf<typeof request.deleteVaultQuery>;

/** `batchSize`: data keys per transaction (Default: 500); `maxBatches`: stop after so many (Default: until done). */
export type RewrapVaultKeysBody = BodyOf<typeof request.rewrapVaultKeysBody>;

/**
 * A new credential, its value typed by its type. `metadata` is stored in clear and returned by
 * listings: never put secrets there. `rotationSchedule` is an ISO 8601 duration in weeks, days or
 * hours, e.g. `P90D`.
 */
export interface StoreCredentialBody<T extends CredentialType = CredentialType>
  extends Omit<BodyOf<typeof request.storeCredentialBody>, 'type' | 'value'> {
  type: T;
  value: CredentialValues[T];
}

/**
 * `includeDeleted`: include soft-deleted credentials (Default: false); `name` (exact) or `prefix`:
 * only the credentials so named.
 */
export type ListCredentialsQuery = QueryOf<typeof request.listCredentialsQuery>;

/**
 * At least one field; `null` clears `expiresAt` or `rotationSchedule`; `active: false`
 * deactivates, `true` reactivates.
 */
export type UpdateCredentialBody = BodyOf<typeof request.updateCredentialBody>;

/** `recoveryWindowDays`: days during which the credential can be restored. (Default: 7), 1 to 30. */
export type DeleteCredentialOptions = QueryOf<typeof request.deleteCredentialQuery>;

/** `reason`: why the value is needed, recorded in the access log; `version`: a past one (Default: current). */
export type RevealBody = BodyOf<typeof request.revealBody>;

/**
 * A new value. `expectedVersion` is check-and-set: the server answers VERSION_MISMATCH unless it is
 * still the current version. `expiresAt`: a new expiry (null clears it); unchanged when absent.
 */
export interface RotateBody<V extends CredentialValue = CredentialValue>
  extends Omit<BodyOf<typeof request.rotateBody>, 'value'> {
  /** The new value; absent, the credential's rotator makes one now. */
  value?: V;
}

/**
 * `POST /v1/webhooks`: `url`, https (plain http and private addresses only where the server allows
 * them); `events`, the event types to receive, e.g. `credential.rotated` (Default: all).
 */
export type CreateWebhookBody = BodyOf<typeof request.createWebhookBody>;

/** Filters of the access log; every one optional, newest entries first; `from` inclusive, `to` exclusive. */
export type AuditQuery = QueryOf<typeof request.auditQuery>;
export type AuditProofQuery = QueryOf<typeof request.auditProofQuery>;
export type AuditConsistencyQuery = QueryOf<typeof request.auditConsistencyQuery>;
export type AuditLeavesQuery = QueryOf<typeof request.auditLeavesQuery>;
