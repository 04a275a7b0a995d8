/**
 * Each credential type's value shape as people read it, derived from {@link VALUE_SCHEMAS} so the
 * README's table, `credreg cred put --help` and the OpenAPI document cannot drift from what the
 * core accepts.
 */
import { z } from 'zod';
import { CREDENTIAL_TYPES, type CredentialType } from './types.js';
import { VALUE_SCHEMAS } from './validation.js';

/** One field of a structured value. */
export interface ValueField {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
}

/**
 * A type's value: plain text, an object with known fields, or any JSON object (`generic`).
 *
 * @example
 * valueShape('basic_auth');
 * // { type: 'basic_auth', kind: 'object', description: 'a user name and password',
 * //   fields: [{ name: 'username', required: true, … }, { name: 'password', required: true, … }] }
 */
export interface ValueShape {
  readonly type: CredentialType;
  readonly kind: 'text' | 'object' | 'any-object';
  readonly description: string;
  readonly fields: readonly ValueField[];
}

/** The value shape of one credential type. */
export function valueShape(type: CredentialType): ValueShape {
  const schema = VALUE_SCHEMAS[type];
  const description = schema.description ?? '';
  if (schema instanceof z.ZodString) return { type, kind: 'text', description, fields: [] };
  if (!(schema instanceof z.ZodObject)) return { type, kind: 'any-object', description, fields: [] };
  const fields = Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    // Optional exactly when leaving it out passes.
    required: !field.safeParse(undefined).success,
    description: field.description ?? '',
  }));
  return { type, kind: 'object', description, fields };
}

/** Every credential type's value shape, in the order of `CREDENTIAL_TYPES`. */
export const valueShapes = (): ValueShape[] => CREDENTIAL_TYPES.map(valueShape);
