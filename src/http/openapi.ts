/**
 * The OpenAPI document of the `/v1` API: generated from the routes' zod schemas, with what every
 * route shares added here once (so a new route gets it too): a summary when it gives none, the
 * error responses as `application/problem+json`, named component schemas, tags, servers and the
 * package version. `openApiDocument()` (`openapi-document.ts`) writes it without a server.
 */
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_CLIENT_ADDR } from '../config.js';
import { CREDENTIAL_TYPES, type CredentialType } from '../core/types.js';
import {
  DOCUMENTED_AS,
  DOCUMENTED_VALUES,
  documentedRevealed,
  documentedStoreBody,
  pascalName,
  revealedVariants,
  storeVariants,
} from './documented-schemas.js';
import * as response from './schemas.js';

/** The package's version: the document's `info.version`. */
export const API_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;

/** The document's tags, in the order the docs page shows them. */
export const API_TAGS = [
  { name: 'platform', description: 'Tenants and root keys: platform tokens only.' },
  { name: 'access', description: 'Principals and their API tokens, within a tenant.' },
  { name: 'vaults', description: 'Vaults: named groups of credentials with their own key and retention.' },
  {
    name: 'credentials',
    description: 'Credentials: store, reveal (audited), rotate, version, delete and restore.',
  },
  { name: 'keys', description: 'Vault keys and root keys: rotation, re-wrapping, destruction.' },
  { name: 'audit', description: 'The access log: every attempt, granted or refused.' },
  { name: 'webhooks', description: 'Webhook subscriptions and their deliveries (Standard Webhooks).' },
] as const;

/**
 * Names a schema in `components.schemas` (requests get an `Input` suffix). In zod's global
 * registry, beside its description: the registry the document's generator reads both from.
 */
const name = (schema: z.ZodType, id: string, extra: Record<string, unknown> = {}) =>
  z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), ...extra, id });
for (const [schema, id] of [
  [response.problem, 'Problem'],
  [response.tenant, 'Tenant'],
  [response.principal, 'Principal'],
  [response.apiToken, 'ApiToken'],
  [response.createdToken, 'IssuedToken'],
  [response.vault, 'Vault'],
  [response.credential, 'Credential'],
  [response.credentialWithSigningSecret, 'StoredCredential'],
  [response.version, 'CredentialVersion'],
  [response.accessLogEntry, 'AuditEvent'],
  [response.webhookSubscription, 'Webhook'],
  [response.createdWebhook, 'CreatedWebhook'],
  [response.webhookDelivery, 'WebhookDelivery'],
] as const)
  name(schema, id);
// Request schemas come out as `…Input` (see fastify-type-provider-zod's registry).
const mapping = (variant: (type: CredentialType) => string) =>
  Object.fromEntries(CREDENTIAL_TYPES.map((type) => [type, `#/components/schemas/${variant(type)}`]));
name(documentedRevealed, 'RevealedCredential', {
  discriminator: { propertyName: 'type', mapping: mapping((t) => `Revealed${pascalName(t)}`) },
});
name(documentedStoreBody, 'StoreCredential', {
  discriminator: { propertyName: 'type', mapping: mapping((t) => `Store${pascalName(t)}Input`) },
});
for (const type of CREDENTIAL_TYPES) {
  name(DOCUMENTED_VALUES[type], `${pascalName(type)}Value`);
  name(revealedVariants[type], `Revealed${pascalName(type)}`);
  name(storeVariants[type], `Store${pascalName(type)}`);
}

const PROBLEM = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/problem+json': { schema: PROBLEM } },
});
// Header schemas as @fastify/swagger takes them (it wraps each in `schema`).
const retryAfter = {
  'Retry-After': { description: 'seconds to wait before retrying', type: 'integer' },
};
/** The errors any `/v1` route may answer, each an RFC 9457 problem document. */
const ERROR_RESPONSES: Record<string, unknown> = {
  400: problemResponse('The request is not valid: VALIDATION (see `issues`), BAD_REQUEST or TENANT_REQUIRED'),
  401: problemResponse('UNAUTHENTICATED: no bearer token, or one that is unknown, expired or revoked', {
    'WWW-Authenticate': { description: '`Bearer`', type: 'string' },
  }),
  403: problemResponse("FORBIDDEN: the token's role or vault scope does not allow this"),
  404: problemResponse('NOT_FOUND: no such object, or none this token may see'),
  429: problemResponse('RATE_LIMITED: too many requests from this token or address', retryAfter),
  '4XX': problemResponse(
    'Another refusal: 409 CONFLICT, EXPIRED or INACTIVE, 410 DELETED, 412 VERSION_MISMATCH, 413, 414, 415',
  ),
  '5XX': problemResponse(
    'The server failed: 500 INTERNAL or CRYPTO, 502 ROTATION_FAILED, 503 UNAVAILABLE or AUDIT_UNAVAILABLE (with Retry-After)',
    retryAfter,
  ),
};

/** `rotateRootKey` → `Rotate root key`: the summary of a route that gives none. */
const summaryOf = (operationId: string) => {
  const words = operationId.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

type Doc = FastifySchema & {
  hide?: boolean;
  summary?: string;
  operationId?: string;
  response?: Record<string, unknown>;
};
const zodTransform = createJsonSchemaTransform({});
const zodTransformObject = createJsonSchemaTransformObject({});

/** A route's schema as documented: loose schemas replaced by their documented form. */
function documented(schema: Doc): Doc {
  const swap = <T>(s: T): T => (DOCUMENTED_AS.get(s as z.ZodType) as T | undefined) ?? s;
  return {
    ...schema,
    ...(schema.body ? { body: swap(schema.body) } : {}),
    ...(schema.response
      ? { response: Object.fromEntries(Object.entries(schema.response).map(([k, s]) => [k, swap(s)])) }
      : {}),
  };
}

const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' };

/**
 * A route's responses as documented: its own successes, described (by their status when their
 * schema is not), then the errors every `/v1` route shares, in place of its own `4xx` entry.
 */
function withErrors(responses: Record<string, unknown> = {}): Record<string, unknown> {
  const described = (status: string, schema: { description?: string; type?: unknown; content?: unknown }) => {
    const description = schema.description || SUCCESS[status] || status;
    // Declared per media type already (e.g. a binary download): only its description may be missing.
    if (schema.content) return { ...schema, description };
    // A body-less answer (204) has no content; @fastify/swagger reads its description from here.
    if (schema.type === 'null') return { ...schema, 'x-response-description': description };
    return { description, content: { 'application/json': { schema } } };
  };
  const own = Object.fromEntries(
    Object.entries(responses)
      .filter(([status]) => !/^[45]xx$/i.test(status))
      .map(([status, schema]) => [status, described(status, schema as { description?: string })]),
  );
  return { ...own, ...Object.fromEntries(Object.entries(ERROR_RESPONSES).filter(([s]) => !(s in own))) };
}

/** Names every schema in a document refers to, so the unused ones can be left out. */
function referenced(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) referenced(v, into);
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/'))
        into.add(v.slice('#/components/schemas/'.length));
      else referenced(v, into);
    }
  return into;
}

/** Registers `@fastify/swagger` with the document's options (served at `/openapi.json`). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'credential-registry',
        version: API_VERSION,
        description:
          'Multi-tenant credential registry: encrypted, versioned, audited secrets. Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: DEFAULT_CLIENT_ADDR, description: 'a local server on its default address' }],
      tags: [...API_TAGS],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: (input) => {
      const out = zodTransform({ ...input, schema: input.schema && documented(input.schema as Doc) });
      const schema = out.schema as Doc | undefined;
      if (!schema || schema.hide || !input.url.startsWith('/v1/')) return out;
      return {
        url: out.url,
        schema: {
          ...schema,
          ...(!schema.summary && schema.operationId ? { summary: summaryOf(schema.operationId) } : {}),
          response: withErrors(schema.response),
        } as FastifySchema,
      };
    },
    transformObject: (input) => {
      const doc = zodTransformObject(input) as { components?: { schemas?: Record<string, unknown> } };
      const all = doc.components?.schemas ?? {};
      // Every registered schema comes out twice (input and output): keep those the document uses.
      const used = referenced({ ...doc, components: { ...doc.components, schemas: {} } }, new Set());
      for (let size = -1; size !== used.size; ) {
        size = used.size;
        for (const id of [...used]) referenced(all[id], used);
      }
      const schemas = Object.fromEntries(Object.entries(all).filter(([id]) => used.has(id)));
      return { ...doc, components: { ...doc.components, schemas } } as ReturnType<typeof zodTransformObject>;
    },
  });
}
