/**
 * Wire shapes of the API's answers, in zod: they encode responses, generate the OpenAPI document
 * and give the typed client its response types (`src/client/api-types.ts`, type-only: what arrives
 * is each schema's encoded side, `z.input`). Requests are in `request-schemas.ts`. Imports only zod
 * and the core's enums, never Fastify.
 */
import { z } from 'zod';
import { CAPABILITIES, type Capability } from '../core/authorization.js';
import {
  ACCESS_ACTIONS,
  ACCESS_OUTCOMES,
  CREDENTIAL_TYPES,
  ROLES,
  ROTATION_STATES,
  VERSION_STAGES,
} from '../core/types.js';

/** ISO 8601 on the wire, `Date` in the code. */
export const isoDate = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (s) => new Date(s),
  encode: (d) => d.toISOString(),
});
const nullableDate = isoDate.nullable();
export const id = z.string().describe('a UUID');

export const page = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page'),
  });

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('stable error code, e.g. NOT_FOUND'),
    issues: z.array(z.object({ path: z.string(), problem: z.string() })).optional(),
    requestId: z.string(),
    clientRequestId: z.string().optional(),
  })
  .describe('RFC 9457 problem details');

export const tenant = z.object({ id, name: z.string(), createdAt: isoDate });
export const principal = z.object({
  id,
  tenantId: id,
  name: z.string(),
  kind: z.enum(['user', 'service']),
  createdAt: isoDate,
});
export const apiToken = z.object({
  id,
  tenantId: id,
  principalId: id,
  role: z.enum(ROLES),
  vaultId: id.nullable(),
  expiresAt: nullableDate,
  revokedAt: nullableDate,
  createdBy: z.string(),
  createdAt: isoDate,
});
export const createdToken = z.object({
  token: z.string().describe('the bearer token: shown once, only its hash is stored'),
  id,
  tenantId: id,
  principalId: id,
  role: z.enum(ROLES),
  vaultId: id.nullable(),
  expiresAt: nullableDate,
});
export const vault = z.object({
  id,
  tenantId: id,
  name: z.string(),
  description: z.string().nullable(),
  maxVersions: z.number().int(),
  currentKeyVersion: z.number().int(),
  expiryAlerts: z
    .array(z.string())
    .nullable()
    .describe(
      'default expiry alert windows of its credentials (ISO 8601 durations); null: ["P30D","P7D","P1D"]',
    ),
  createdBy: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
});
export const credential = z.object({
  id,
  tenantId: id,
  vaultId: id,
  name: z.string(),
  type: z.enum(CREDENTIAL_TYPES),
  metadata: z.record(z.string(), z.unknown()),
  currentVersion: z.number().int(),
  expiresAt: nullableDate,
  rotationSchedule: z.string().nullable(),
  isActive: z.boolean(),
  createdBy: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
  lastRotatedAt: nullableDate,
  rotation: z
    .object({
      schedule: z.string().nullable(),
      rotator: z.looseObject({ type: z.string() }),
      nextRotationAt: nullableDate,
      state: z.enum(ROTATION_STATES),
      lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
      attempts: z.number().int(),
      pendingVersion: z.number().int().nullable(),
      previousVersion: z.number().int().nullable(),
      runningUntil: nullableDate,
    })
    .nullable(),
  deletedAt: nullableDate,
  purgeAfter: nullableDate,
  expiryAlerts: z
    .array(z.string())
    .nullable()
    .describe("its own expiry alert windows (ISO 8601 durations before expiresAt); null: its vault's"),
  effectiveExpiryAlerts: z
    .array(z.string())
    .describe("the windows in effect: its own, else its vault's, else the system default"),
  lastExpiryAlert: z
    .string()
    .nullable()
    .describe('the narrowest window already sent for the current expiresAt (`expired` once it expired)'),
});
/** What a store or update answers: the credential, with its rotator's signing secret when it made one. */
export const credentialWithSigningSecret = credential.extend({
  rotation: credential.shape.rotation
    .unwrap()
    .extend({
      signingSecret: z
        .string()
        .optional()
        .describe(
          '`whsec_…`: what the rotation endpoint verifies requests with (Standard Webhooks). Only in the answer of the call that made it: shown once, stored only sealed',
        ),
    })
    .nullable(),
});
export const replacedSigningSecret = z.object({
  signingSecret: z.string().describe('the new `whsec_…` signing secret, current from now: shown once'),
  previousRetiresAt: nullableDate.describe(
    'until when requests also carry a signature with the secret it replaced (24 hours); null when there was none',
  ),
});
export const version = z.object({
  credentialId: id,
  version: z.number().int(),
  vaultKeyVersion: z.number().int(),
  createdBy: z.string(),
  createdByName: z
    .string()
    .nullable()
    .describe('the name of the principal whose id is `createdBy`; null when it is no principal (a rotator)'),
  createdAt: isoDate,
  destroyedAt: nullableDate,
  stages: z
    .array(z.enum(VERSION_STAGES))
    .describe('current, pending (made by a rotation, not yet tested and promoted) or previous'),
});
export const versionList = z.object({ items: z.array(version) });
export const rotationResult = z.object({ version: z.number().int(), credential });
export const revealed = z.object({
  credentialId: id,
  name: z.string(),
  type: z.enum(CREDENTIAL_TYPES),
  version: z.number().int(),
  value: z.unknown().describe("the secret value, shaped by the credential's type"),
  expiresAt: nullableDate,
});
export const accessLogEntry = z.object({
  id,
  tenantId: id,
  occurredAt: isoDate,
  credentialId: id.nullable(),
  vaultId: id.nullable(),
  action: z.enum(ACCESS_ACTIONS),
  outcome: z.enum(ACCESS_OUTCOMES),
  actor: z.string(),
  actorName: z
    .string()
    .nullable()
    .describe(
      'the name of the principal whose id is `actor`; null when the actor is no principal (`platform:…`, `(anonymous)`)',
    ),
  reason: z.string().nullable(),
  sourceIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  clientRequestId: z.string().nullable(),
  version: z.number().int().nullable(),
  errorCode: z.string().nullable(),
});

const base64Hash = z.string().describe('a SHA-256 hash, base64');

export const auditKeys = z.object({
  origin: z.string().describe("the key name of every checkpoint signature, and the checkpoints' origin line"),
  keys: z.array(
    z.object({
      id,
      publicKeyPem: z.string().describe('Ed25519 public key, SPKI PEM'),
      validFrom: isoDate,
      validTo: isoDate
        .optional()
        .describe('set once the key was replaced: checkpoints signed before still verify'),
    }),
  ),
});

export const auditKeyRotation = z.object({ id, validFrom: isoDate });

export const auditCheckpoint = z.object({
  treeSize: z.number().int(),
  rootHash: base64Hash,
  keyId: id,
  signedAt: isoDate,
  checkpoint: z
    .string()
    .describe('the signed note (C2SP tlog-checkpoint), as `credreg audit verify` reads it'),
});

export const auditInclusionProof = z.object({
  leafIndex: z.number().int(),
  treeSize: z.number().int(),
  leafHash: base64Hash,
  proof: z.array(base64Hash).describe('RFC 9162 inclusion proof, lowest level first'),
});

export const auditConsistencyProof = z.object({
  from: z.number().int(),
  to: z.number().int(),
  proof: z.array(base64Hash).describe('RFC 9162 consistency proof'),
});

/** A leaf's row exactly as its hash covers it (docs/audit.md, "Leaf"). */
const auditLeafEntry = z.object({
  action: z.string(),
  actor: z.string(),
  clientRequestId: z.string().nullable(),
  credentialId: z.string().nullable(),
  errorCode: z.string().nullable(),
  id: z.string(),
  occurredAt: z.string().describe("the database's instant, to the microsecond"),
  outcome: z.string(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  sourceIp: z.string().nullable(),
  tenantId: z.string(),
  userAgent: z.string().nullable(),
  vaultId: z.string().nullable(),
  version: z.number().int().nullable(),
});

export const auditLeaves = z.object({
  treeSize: z.number().int(),
  items: z.array(
    z.object({
      leafIndex: z.number().int(),
      leafHash: base64Hash,
      entry: auditLeafEntry.nullable().describe('the row as the database holds it now; null when it is gone'),
      proof: z.array(base64Hash).optional(),
    }),
  ),
});

export const vaultKeyStatus = z.object({
  currentVersion: z.number().int(),
  versions: z.array(z.object({ version: z.number().int(), createdAt: isoDate, dataKeys: z.number().int() })),
});
export const vaultKeyRotation = z.object({ version: z.number().int() });
export const rewrapResult = z.object({ rewrapped: z.number().int(), remaining: z.number().int() });
export const rootRotationResult = z.object({
  rewrapped: z.number().int(),
  failed: z
    .number()
    .int()
    .describe('vault keys no configured root key could unwrap (CRYPTO), each in its tenant access log'),
});
export const rootKeyStatus = z.object({
  wrappedBy: z.array(
    z.object({
      provider: z.string(),
      providerKeyId: z.string(),
      current: z.boolean(),
      vaultKeys: z.number().int(),
    }),
  ),
  remaining: z.number().int(),
});

export const webhookSubscription = z.object({
  id,
  tenantId: id,
  url: z.string(),
  events: z.array(z.string()).nullable().describe('the event types it receives; null for all'),
  consecutiveFailures: z.number().int(),
  disabledAt: nullableDate.describe('set once it was disabled after repeated failed deliveries'),
  createdBy: z.string(),
  createdAt: isoDate,
});
export const createdWebhook = webhookSubscription.extend({
  secret: z
    .string()
    .describe('`whsec_…`, to verify `webhook-signature` (Standard Webhooks): shown once, stored only sealed'),
});
export const webhookDelivery = z.object({
  id,
  subscriptionId: id,
  eventId: id.describe('sent as `webhook-id`: the same on every attempt'),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  nextAttemptAt: isoDate,
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: nullableDate,
  createdAt: isoDate,
});
export const webhookTest = z.object({ eventId: id });
/** `GET /v1/whoami`: what the presented token is, and what it may do; never its secret. */
export const whoami = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('platform'),
    tokenId: id,
    name: z.string().describe("the platform token's name"),
  }),
  z.object({
    kind: z.literal('tenant'),
    tenantId: id,
    tokenId: id,
    principalId: id,
    role: z.enum(ROLES),
    vaultId: id.nullable().describe('the one vault the token is limited to, or null'),
    capabilities: z
      .array(z.enum(CAPABILITIES as [Capability, ...Capability[]]))
      .describe('what the token may do, e.g. `credentials:reveal`; each call is still checked'),
  }),
]);

/** The answer of a DELETE that returns nothing (204). */
export const noContent = z.null().describe('No Content');
