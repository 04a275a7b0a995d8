/**
 * What the OpenAPI document shows for the credential value, where the routes validate loosely.
 *
 * The routes take any JSON as a `value` and the core checks it against the credential's type
 * (`VALUE_SCHEMAS`), so that its VALIDATION failures are recorded and worded by the core. The
 * document still tells a client each type's shape: these schemas stand in for the loose ones in
 * the document only (see `DOCUMENTED_AS`), never in validation or encoding.
 */
import { z } from 'zod';
import { CREDENTIAL_TYPES, type CredentialType } from '../core/types.js';
import { VALUE_SCHEMAS } from '../core/validation.js';
import { rotateBody, storeCredentialBody } from './request-schemas.js';
import { revealed } from './schemas.js';

/**
 * Each type's value as documented: the core's schema, except `generic`, whose bounds are checked
 * before its shape (which hides the shape from JSON Schema): documented as any JSON object.
 */
export const DOCUMENTED_VALUES: Readonly<Record<CredentialType, z.ZodType>> = Object.freeze(
  Object.fromEntries(
    CREDENTIAL_TYPES.map((type) => [
      type,
      type === 'generic'
        ? z.record(z.string(), z.unknown()).describe(VALUE_SCHEMAS.generic.description ?? 'any JSON object')
        : VALUE_SCHEMAS[type],
    ]),
  ) as unknown as Record<CredentialType, z.ZodType>,
);

/** `api_key` → `ApiKey`: a type's name in the names of its component schemas. */
export const pascalName = (type: CredentialType) =>
  type
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

type Variant = z.ZodObject<{ type: z.ZodLiteral<CredentialType>; value: z.ZodType }>;
/** One object schema per credential type: `type` its literal, `value` that type's shape. */
const variantsOf = (base: z.ZodObject): Record<CredentialType, Variant> =>
  Object.fromEntries(
    CREDENTIAL_TYPES.map((type) => [
      type,
      base.extend({ type: z.literal(type), value: DOCUMENTED_VALUES[type] }) as unknown as Variant,
    ]),
  ) as Record<CredentialType, Variant>;
const unionOf = (variants: Record<CredentialType, Variant>) =>
  z.discriminatedUnion('type', CREDENTIAL_TYPES.map((t) => variants[t]) as [Variant, ...Variant[]]);

/** Each type's revealed credential. */
export const revealedVariants = variantsOf(revealed);
/** A revealed credential, its `value` shaped by its `type`. */
export const documentedRevealed = unionOf(revealedVariants).describe(
  'a revealed credential: `value` is shaped by `type`',
);

/** Each type's store body. */
export const storeVariants = variantsOf(storeCredentialBody);
/** `POST /v1/vaults/{vaultId}/credentials`, its `value` shaped by its `type`. */
export const documentedStoreBody = unionOf(storeVariants).describe(
  'a new credential: `value` is shaped by `type` (at most 64 KiB as JSON)',
);

/** A new value for `POST /v1/credentials/{id}/rotate`: shaped by the credential's type. */
const anyValue = z
  .union([
    z.string().min(1).describe('api_key, bearer_token, ssh_key or connection_string: the text'),
    ...CREDENTIAL_TYPES.filter((t) => !(VALUE_SCHEMAS[t] instanceof z.ZodString)).map(
      (t) => DOCUMENTED_VALUES[t],
    ),
  ])
  .describe("the new value, shaped by the credential's type; absent: the credential's rotator makes one now");

/** `POST /v1/credentials/{id}/rotate`, its `value` one of the value shapes. */
export const documentedRotateBody = rotateBody.extend({ value: anyValue.optional() });

/** The loose schema a route validates or encodes with, and what the document shows in its place. */
export const DOCUMENTED_AS: ReadonlyMap<z.ZodType, z.ZodType> = new Map<z.ZodType, z.ZodType>([
  [revealed, documentedRevealed],
  [storeCredentialBody, documentedStoreBody],
  [rotateBody, documentedRotateBody],
]);
