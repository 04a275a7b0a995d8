/**
 * Request bodies and query strings of the `/v1` API, in zod: the routes validate with them, the
 * OpenAPI document is generated from them and the typed client derives its request types from them
 * (`src/client/api-types.ts`, type-only). Imports only zod and the core's enums, never Fastify.
 *
 * They check loosely (types and presence) and the core checks strictly, so that its VALIDATION
 * failures are recorded in the access log: a rule added here would refuse before the log sees it.
 */
import { z } from 'zod';
import { ACCESS_ACTIONS, ACCESS_OUTCOMES, ROLES, VERSION_STAGES } from '../core/types.js';
import { id } from './schemas.js';

/** Request dates: strict ISO 8601 with an offset (no expanded years); the core checks the range. */
export const dateInput = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .describe('ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z');

/** Page options of every listing. */
export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().optional().describe('page size, 1–1000 (Default: 100)'),
  cursor: z.string().optional(),
});

/** A query flag: query strings carry text, so `true` is the string 'true'. */
const flag = z.enum(['true', 'false']).optional();

/** The name filters of a listing by name. */
const nameFilters = {
  name: z.string().optional().describe('only the one of this exact name'),
  prefix: z.string().optional().describe('only those whose name starts with this'),
};

/** `GET /v1/vaults`. */
export const listVaultsQuery = pageQuery.extend(nameFilters);

/** `GET /v1/tenants`: page options, and `name` to find the one tenant of that exact name. */
export const listTenantsQuery = pageQuery.extend({
  name: z.string().optional().describe('only the tenant of this exact name'),
});

/** `POST /v1/tenants`. */
export const createTenantBody = z.strictObject({ name: z.string() });

/** `POST /v1/tenants/{tenantId}/tokens`. */
export const createTenantAdminTokenBody = z.strictObject({
  name: z.string(),
  role: z.enum(ROLES).optional(),
});

/** `POST /v1/principals`. */
export const createPrincipalBody = z.strictObject({ name: z.string(), kind: z.enum(['user', 'service']) });

/** `POST /v1/tokens`. */
export const createTokenBody = z.strictObject({
  principalId: id,
  role: z.enum(ROLES),
  vaultId: id.optional().describe('limit the token to this vault'),
  expiresAt: dateInput.optional(),
});

/** Expiry alert windows on a credential or a vault. */
const expiryAlertsBody = z
  .array(z.string())
  .describe(
    'windows before expiresAt at which credential.expiring is sent once each: distinct ISO 8601 durations (e.g. ["P30D","P7D","P1D"]), at most 10; [] for none',
  );

/** `POST /v1/vaults`. */
export const createVaultBody = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  maxVersions: z.number().int().optional().describe('versions kept per credential (Default: 10)'),
  expiryAlerts: expiryAlertsBody.optional(),
});

/** `PATCH /v1/vaults/{id}`. */
export const updateVaultBody = z.strictObject({
  expiryAlerts: expiryAlertsBody.nullable().optional().describe('null: back to the system default'),
});

/** `DELETE /v1/vaults/{id}`. */
export const deleteVaultQuery = z.strictObject({ force: flag });

/**
 * The body of an action that takes none (`POST …/restore`, `…/keys/rotate`, `…/enable`): left
 * out, or `{}`; a field in it is refused like any unknown field, not ignored.
 */
export const noBody = z.strictObject({}).nullish();

/** The query of a route that takes none: a parameter in it is refused, not ignored. */
export const noQuery = z.strictObject({});

/** `POST /v1/vaults/{id}/keys/rewrap`; the body itself may be left out. */
export const rewrapVaultKeysBody = z.strictObject({
  batchSize: z.number().int().optional().describe('data keys per transaction (Default: 500)'),
  maxBatches: z.number().int().optional().describe('stop after this many batches (Default: until done)'),
});

/** Rotation settings on store and update: ids and options only, never a secret. */
const rotationBody = z
  .strictObject({
    schedule: z
      .string()
      .optional()
      .describe('ISO 8601 duration (P30D) or cron expression; absent: only on demand'),
    rotator: z
      .looseObject({ type: z.string().describe('random, postgresql, mysql, …') })
      .describe("the rotator's type and its settings (see docs/rotation.md)"),
  })
  .describe('rotation by a rotator');

/** `POST /v1/vaults/{vaultId}/credentials`. */
export const storeCredentialBody = z.strictObject({
  name: z.string(),
  type: z
    .string()
    .describe(
      'api_key, bearer_token, basic_auth, oauth2_client, oauth2_token, certificate, ssh_key, connection_string or generic',
    ),
  value: z.unknown().describe('the secret, shaped by its type; at most 64 KiB as JSON'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('stored in clear: no secrets'),
  expiresAt: dateInput.optional(),
  rotationSchedule: z.string().optional().describe('ISO 8601 duration, e.g. P90D'),
  rotation: rotationBody.optional(),
  expiryAlerts: expiryAlertsBody.optional().describe("absent: the vault's"),
});

/** `GET /v1/vaults/{vaultId}/credentials`. */
export const listCredentialsQuery = pageQuery.extend({
  includeDeleted: flag,
  expiringWithin: z
    .string()
    .optional()
    .describe('only those expiring within this ISO 8601 duration, e.g. P7D'),
  rotationDue: flag.describe('only those whose rotation is due now'),
  ...nameFilters,
});

/** `PATCH /v1/credentials/{id}`. */
export const updateCredentialBody = z.strictObject({
  metadata: z.record(z.string(), z.unknown()).optional(),
  expiresAt: dateInput.nullable().optional(),
  rotationSchedule: z.string().nullable().optional(),
  rotation: rotationBody.nullable().optional().describe('null removes rotation'),
  active: z.boolean().optional().describe('false deactivates: every reveal and rotation is refused'),
  expiryAlerts: expiryAlertsBody.nullable().optional().describe("null: inherit the vault's again"),
});

/** `DELETE /v1/credentials/{id}`. */
export const deleteCredentialQuery = z.strictObject({
  recoveryWindowDays: z.coerce.number().int().optional().describe('1–30 (Default: 7)'),
});

/** `POST /v1/credentials/{id}/reveal`. */
export const revealBody = z.strictObject({
  reason: z.string().describe('why the value is needed; recorded'),
  version: z.number().int().optional(),
  stage: z
    .enum(VERSION_STAGES)
    .optional()
    .describe('current (the default), pending (a rotation in progress) or previous; not with version'),
});

/** `POST /v1/credentials/{id}/rotate`. */
export const rotateBody = z.strictObject({
  value: z.unknown().optional().describe("the new value; absent: the credential's rotator makes one now"),
  expectedVersion: z
    .number()
    .int()
    .optional()
    .describe('check-and-set: refused with 412 unless still current'),
  expiresAt: dateInput.nullable().optional(),
});

/** `GET /v1/audit`. */
export const auditQuery = pageQuery.extend({
  credentialId: z.string().optional(),
  vaultId: z.string().optional(),
  actor: z.string().optional(),
  action: z.enum(ACCESS_ACTIONS).optional(),
  outcome: z.enum(ACCESS_OUTCOMES).optional(),
  from: dateInput.optional(),
  to: dateInput.optional(),
});

const leafCount = (what: string) => z.coerce.number().int().describe(what);

/** `GET /v1/audit/proof`. */
export const auditProofQuery = z.strictObject({
  index: leafCount('the leaf, from 0'),
  treeSize: leafCount("the tree the proof is in: a checkpoint's tree size"),
});

/** `GET /v1/audit/consistency`. */
export const auditConsistencyQuery = z.strictObject({
  from: leafCount('the older tree size'),
  to: leafCount('the newer tree size'),
});

/** `GET /v1/audit/leaves`. */
export const auditLeavesQuery = z.strictObject({
  treeSize: leafCount("the tree the page belongs to: a checkpoint's tree size"),
  from: leafCount('the first leaf (Default: 0)').optional(),
  limit: leafCount('page size, 1–1000 (Default: 1000)').optional(),
  proofs: flag.describe('each leaf with its inclusion proof (Default: false)'),
});

/** `POST /v1/webhooks`. */
export const createWebhookBody = z.strictObject({
  url: z.string().describe('the receiver: https, and not a private address unless the server allows it'),
  events: z.array(z.string()).optional().describe('the event types to receive (Default: all)'),
});
