import { isIP } from 'node:net';
import { z } from 'zod';
import { type FieldIssue, RegistryError } from './errors.js';
import { isUuid } from './ids.js';
import { ACCESS_ACTIONS, ACCESS_OUTCOMES, CREDENTIAL_TYPES, type CredentialType, ROLES } from './types.js';

/** A value's JSON form may not exceed this many bytes (64 KiB). */
export const MAX_VALUE_BYTES = 64 * 1024;
/** Metadata is stored in clear, so it is kept small and must not hold secrets. */
export const MAX_METADATA_BYTES = 8 * 1024;

export const uuid = z.string().refine(isUuid, 'must be a lower-case UUID');

/** The largest value of a PostgreSQL `integer` column: versions and counts stop here. */
export const MAX_INT4 = 2 ** 31 - 1;
/** A version number, as its column holds it. */
export const versionNumber = z.number().int().min(1).max(MAX_INT4);

/** U+0000 (PostgreSQL text cannot hold it) or a lone surrogate (not valid UTF-8): text SQL would refuse. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching U+0000 is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Whether PostgreSQL can store this text as it is. */
export const storable = (s: string) => !UNSTORABLE.test(s);
/** Text cut to `max` characters with what PostgreSQL cannot store replaced by U+FFFD: for recording, not accepting. */
export const storableText = (s: string, max: number) =>
  s.slice(0, max).replace(new RegExp(UNSTORABLE, 'g'), '\uFFFD');
/** Free text a caller gives (a reason, a description): at most `max` characters, all storable. */
export const text = (max: number) =>
  z.string().max(max).refine(storable, 'must not contain U+0000 or unpaired surrogates');

/** How deep metadata and structured values may nest, and how many nodes they may hold. */
export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_NODES = 10_000;

/**
 * Whether a JSON value nests at most MAX_JSON_DEPTH deep, holds at most MAX_JSON_NODES nodes, and
 * all its strings and keys are storable. Iterative, so a value nested 10,000 deep costs a loop, not
 * the stack (a recursive schema would overflow it: a 500 instead of a 400).
 */
export function boundedJson(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (++nodes > MAX_JSON_NODES || depth > MAX_JSON_DEPTH) return false;
    if (typeof v === 'string') {
      if (!storable(v)) return false;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (!storable(k)) return false;
        stack.push([child, depth + 1]);
      }
    }
  }
  return true;
}
const JSON_BOUNDS = `must nest at most ${MAX_JSON_DEPTH} deep, hold at most ${MAX_JSON_NODES} items, and contain no U+0000 or unpaired surrogates`;
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
// Bounded before the recursive schema runs, which then never meets a deep value.
const jsonObject = z.unknown().refine(boundedJson, JSON_BOUNDS).pipe(z.record(z.string(), z.json()));
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

/**
 * Each credential type's value shape. Unknown fields are refused so typos surface at write time.
 * The descriptions are what the OpenAPI document, the README's table and `credreg cred put --help`
 * show (see `value-shapes.ts`).
 */
export const VALUE_SCHEMAS = {
  api_key: nonEmpty(MAX_VALUE_BYTES).describe('the API key'),
  bearer_token: nonEmpty(MAX_VALUE_BYTES).describe('the token'),
  ssh_key: nonEmpty(MAX_VALUE_BYTES).describe('the private key (OpenSSH or PEM)'),
  connection_string: nonEmpty(MAX_VALUE_BYTES).describe('the connection string or URL'),
  basic_auth: z
    .strictObject({
      username: nonEmpty(1024).describe('the user name'),
      password: nonEmpty(MAX_VALUE_BYTES).describe('the password'),
    })
    .describe('a user name and password'),
  oauth2_client: z
    .strictObject({
      client_id: nonEmpty(1024).describe('the client id'),
      client_secret: nonEmpty(MAX_VALUE_BYTES).describe('the client secret'),
      token_url: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe("the authorization server's token endpoint (http or https)"),
      scopes: z.array(nonEmpty(256)).max(100).optional().describe('scopes to request, at most 100'),
    })
    .describe('OAuth 2.0 client credentials'),
  oauth2_token: z
    .strictObject({
      access_token: nonEmpty(MAX_VALUE_BYTES).describe('the access token'),
      refresh_token: nonEmpty(MAX_VALUE_BYTES).optional().describe('the refresh token'),
      expires_at: z.iso.datetime({ offset: true }).optional().describe("the access token's expiry, ISO 8601"),
    })
    .describe('an OAuth 2.0 access token, and its refresh token'),
  certificate: z
    .strictObject({
      cert_pem: pem('certificate').describe('the certificate, PEM'),
      key_pem: pem('private key').describe('its private key, PEM'),
      chain_pem: pem('chain').optional().describe('the intermediate certificates, PEM'),
    })
    .describe('an X.509 certificate and its private key'),
  generic: jsonObject.describe('any JSON object (at most 32 deep and 10,000 items)'),
} satisfies Record<CredentialType, z.ZodType>;

export const credentialType = z.enum(CREDENTIAL_TYPES);
export const accessAction = z.enum(ACCESS_ACTIONS);
export const accessOutcome = z.enum(ACCESS_OUTCOMES);

/** A request id, the server's or a caller's: 1–128 printable ASCII characters. */
export const PRINTABLE_ID = /^[\x21-\x7e]{1,128}$/;
const printableId = z.string().regex(PRINTABLE_ID, 'must be 1–128 printable ASCII characters');

export const requestContext = z.object({
  actor: text(200).pipe(z.string().trim().min(1)),
  sourceIp: z
    .string()
    .max(45)
    .refine((ip) => isIP(ip) !== 0, 'must be an IPv4 or IPv6 address')
    .optional(),
  // Recorded, never refused: cut short, with what PostgreSQL cannot store replaced.
  userAgent: z
    .string()
    .transform((s) => storableText(s, 512))
    .optional(),
  requestId: printableId.optional(),
  clientRequestId: printableId.optional(),
  vaultScope: uuid.optional(),
  role: z.enum(ROLES).optional(),
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
  if (!boundedJson(value)) throw validationError([{ path: 'value', problem: JSON_BOUNDS }]);
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
  const issues: FieldIssue[] = result.error.issues.flatMap((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.') || '(input)';
    const secretPath = path === 'value' || path.startsWith('value.');
    if (secretPath)
      return [{ path, problem: isMissing(input, issue) ? 'is missing' : describeCode(issue.code) }];
    // A field this version does not know is named, each on its own (a name the caller chose:
    // printable and cut short; a value's own field names are never quoted, see above).
    if (issue.code === 'unrecognized_keys') {
      const at = path === '(input)' ? '' : `${path}.`;
      return issue.keys.map((key) => ({ path: `${at}${fieldName(key)}`, problem: 'is not a known field' }));
    }
    return [{ path, problem: issue.message }];
  });
  throw validationError(issues);
}

/** A caller's field name as an error may show it: printable ASCII, at most 64 characters. */
export function fieldName(key: unknown): string {
  const name = String(key).replace(/[^\x21-\x7e]/g, '?');
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

/** Whether an issue is about a field the input leaves out (zod reports it as `invalid_type`). */
function isMissing(input: unknown, issue: z.core.$ZodIssue): boolean {
  if (issue.code !== 'invalid_type' || issue.path.length === 0) return false;
  let parent: unknown = input;
  for (const key of issue.path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return false;
    parent = (parent as Record<PropertyKey, unknown>)[key];
  }
  const last = issue.path[issue.path.length - 1] as PropertyKey;
  return parent !== null && typeof parent === 'object' && !Object.hasOwn(parent, last);
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
