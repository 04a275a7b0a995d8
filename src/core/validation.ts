import { isIP } from 'node:net';
import { z } from 'zod';
import { type FieldIssue, RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import { ACCESS_ACTIONS, ACCESS_OUTCOMES, CREDENTIAL_TYPES, type CredentialType } from './types.js';

/** A value's JSON form may not exceed this many bytes (64 KiB). */
export const MAX_VALUE_BYTES = 64 * 1024;
/** Metadata is stored in clear, so it is kept small and must not hold secrets. */
export const MAX_METADATA_BYTES = 8 * 1024;

export const uuid = z.string().refine(isUuid, 'must be a lower-case UUID');
/** A real date PostgreSQL and ISO 8601 both represent: years 1 to 9999. */
export const timestamp = z
  .date()
  .refine(
    (d) => Number.isFinite(d.getTime()) && d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999,
    'must be a date between the years 1 and 9999',
  );
export const resourceName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'must be 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
/**
 * A name people read (tenants, principals): free text, but nothing that renders misleadingly or
 * breaks a log line: no control or format characters (bidi overrides and isolates, zero-width
 * ones), no lone surrogates, no line or paragraph separators.
 */
export const displayName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(
    /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]+$/u,
    'must not contain control, format (such as bidi) or separator characters',
  );
const jsonObject = z.record(z.string(), z.json());
export const metadata = jsonObject.refine(
  (m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES,
  `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
);

/**
 * ISO 8601 durations in weeks, days and hours (`P90D`, `P2W`, `PT12H`, `P1DT6H`), between one hour
 * and ten years. Months and years are left out on purpose: their length varies.
 */
const DURATION_RE = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(\d+)H)?)$/;
function durationHours(text: string): number | null {
  const m = DURATION_RE.exec(text);
  if (!m || text === 'P' || text === 'PT') return null;
  const [, w, d, h] = m;
  return Number(w ?? 0) * 168 + Number(d ?? 0) * 24 + Number(h ?? 0);
}
export const rotationSchedule = z.string().refine((s) => {
  const hours = durationHours(s);
  return hours !== null && hours >= 1 && hours <= 24 * 3650;
}, 'must be an ISO 8601 duration in weeks, days or hours (e.g. "P90D"), from 1 hour to 10 years');

const nonEmpty = (max: number) => z.string().min(1).max(max);
const pem = (label: string) =>
  z
    .string()
    .max(MAX_VALUE_BYTES)
    .regex(/-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/, `must be PEM (${label})`);

/** Each credential type's value shape. Unknown fields are refused so typos surface at write time. */
export const VALUE_SCHEMAS: Record<CredentialType, z.ZodType> = {
  api_key: nonEmpty(MAX_VALUE_BYTES),
  bearer_token: nonEmpty(MAX_VALUE_BYTES),
  ssh_key: nonEmpty(MAX_VALUE_BYTES),
  connection_string: nonEmpty(MAX_VALUE_BYTES),
  basic_auth: z.strictObject({ username: nonEmpty(1024), password: nonEmpty(MAX_VALUE_BYTES) }),
  oauth2_client: z.strictObject({
    client_id: nonEmpty(1024),
    client_secret: nonEmpty(MAX_VALUE_BYTES),
    token_url: z.url({ protocol: /^https?$/ }).optional(),
    scopes: z.array(nonEmpty(256)).max(100).optional(),
  }),
  oauth2_token: z.strictObject({
    access_token: nonEmpty(MAX_VALUE_BYTES),
    refresh_token: nonEmpty(MAX_VALUE_BYTES).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
  }),
  certificate: z.strictObject({
    cert_pem: pem('certificate'),
    key_pem: pem('private key'),
    chain_pem: pem('chain').optional(),
  }),
  generic: jsonObject,
};

export const credentialType = z.enum(CREDENTIAL_TYPES);
export const accessAction = z.enum(ACCESS_ACTIONS);
export const accessOutcome = z.enum(ACCESS_OUTCOMES);

export const requestContext = z.object({
  actor: z.string().trim().min(1).max(200),
  sourceIp: z
    .string()
    .max(45)
    .refine((ip) => isIP(ip) !== 0, 'must be an IPv4 or IPv6 address')
    .optional(),
  userAgent: z
    .string()
    .transform((s) => s.slice(0, 512))
    .optional(),
  requestId: z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1–128 printable ASCII characters')
    .optional(),
  clientRequestId: z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1–128 printable ASCII characters')
    .optional(),
  vaultScope: uuid.optional(),
});

/** Throws VALIDATION unless the value's JSON form is at most 64 KiB and matches its type's schema. */
export function parseValue(type: CredentialType, value: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined; // circular structures and BigInts: not JSON, and the TypeError can quote keys
  }
  if (json === undefined) throw validationError([{ path: 'value', problem: 'is required and must be JSON' }]);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_VALUE_BYTES) {
    throw validationError([{ path: 'value', problem: `must be at most ${MAX_VALUE_BYTES} bytes as JSON` }]);
  }
  return parse(VALUE_SCHEMAS[type], value, 'value');
}

/**
 * Parses with zod and turns failures into a VALIDATION error. zod's messages can quote the input
 * (enum options, unrecognized keys), so under `value` only the field path and the rule's code are
 * kept: a secret must never come back in an error.
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, root = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.') || '(input)';
    const secretPath = path === 'value' || path.startsWith('value.');
    return { path, problem: secretPath ? describeCode(issue.code) : issue.message };
  });
  throw validationError(issues);
}

function describeCode(code: string): string {
  switch (code) {
    case 'invalid_type':
      return 'has the wrong type';
    case 'too_small':
      return 'is too short or empty';
    case 'too_big':
      return 'is too long';
    case 'unrecognized_keys':
      return 'has fields this type does not allow';
    case 'invalid_format':
      return 'has the wrong format';
    default:
      return 'is not valid for this type';
  }
}

function validationError(issues: FieldIssue[]): RegistryError {
  const summary = issues.map((i) => `${i.path} ${i.problem}`).join('; ');
  return new RegistryError('VALIDATION', `invalid input: ${summary}`, { issues });
}
