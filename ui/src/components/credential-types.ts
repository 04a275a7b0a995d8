/**
 * Each credential type's value as the console's forms edit it: the fields of
 * `src/core/validation.ts` (`VALUE_SCHEMAS`, which the UI cannot import: it needs Node), kept as
 * text while typed and turned into the value the API takes on submit. The server checks it again.
 */
import type { CredentialValue } from '../../../src/client/index.js';
import { CREDENTIAL_TYPES, type CredentialType } from '../../../src/core/types.js';

export { CREDENTIAL_TYPES, type CredentialType };

/** One input of a type's form. */
export interface FormField {
  /** The value's field (`username`), or `value` for the types whose value is plain text. */
  name: string;
  label: string;
  required: boolean;
  /** `secret`: a password input; `multiline`: a text area; `pem`: a text area with a file picker. */
  input: 'text' | 'secret' | 'multiline' | 'pem' | 'url' | 'json';
  hint?: string;
}

const text = (name: string, label: string, input: FormField['input'], required = true, hint?: string) => ({
  name,
  label,
  input,
  required,
  ...(hint ? { hint } : {}),
});

/** The form of each type, in the order its fields are asked for. */
export const FORM_FIELDS: Record<CredentialType, readonly FormField[]> = {
  api_key: [text('value', 'API key', 'secret')],
  bearer_token: [text('value', 'Token', 'secret')],
  ssh_key: [text('value', 'Private key (OpenSSH or PEM)', 'pem')],
  connection_string: [text('value', 'Connection string or URL', 'secret')],
  basic_auth: [text('username', 'Username', 'text'), text('password', 'Password', 'secret')],
  oauth2_client: [
    text('client_id', 'Client id', 'text'),
    text('client_secret', 'Client secret', 'secret'),
    text('token_url', 'Token URL', 'url', false, "The authorization server's token endpoint (http or https)"),
    text('scopes', 'Scopes', 'text', false, 'Separated by spaces, at most 100'),
  ],
  oauth2_token: [
    text('access_token', 'Access token', 'secret'),
    text('refresh_token', 'Refresh token', 'secret', false),
    text('expires_at', 'Access token expires at', 'text', false, 'ISO 8601, e.g. 2027-01-31T00:00:00Z'),
  ],
  certificate: [
    text('cert_pem', 'Certificate (PEM)', 'pem'),
    text('key_pem', 'Private key (PEM)', 'pem'),
    text('chain_pem', 'Intermediate certificates (PEM)', 'pem', false),
  ],
  generic: [text('value', 'Value (a JSON object)', 'json', true, 'Any JSON object, e.g. {"key": "…"}')],
};

/** What each type holds, for the type picker. */
export const TYPE_LABELS: Record<CredentialType, string> = {
  api_key: 'API key',
  bearer_token: 'Bearer token',
  basic_auth: 'Username and password',
  oauth2_client: 'OAuth 2.0 client',
  oauth2_token: 'OAuth 2.0 token',
  certificate: 'Certificate and key',
  ssh_key: 'SSH key',
  connection_string: 'Connection string',
  generic: 'Generic (JSON)',
};

/** The text typed into a type's form, by field name. */
export type FieldTexts = Record<string, string>;

/**
 * The value the API takes, from what was typed; an error message (naming the field, never its
 * text) when it is not one.
 */
export function valueFrom(
  type: CredentialType,
  texts: FieldTexts,
): { value: CredentialValue } | { error: string } {
  const fields = FORM_FIELDS[type];
  for (const f of fields) {
    if (f.required && !(texts[f.name] ?? '').trim()) return { error: `${f.label} is required.` };
  }
  if (type === 'generic') {
    try {
      const parsed: unknown = JSON.parse(texts.value ?? '');
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return { error: 'The value must be a JSON object ({…}).' };
      }
      return { value: parsed as CredentialValue };
    } catch {
      return { error: 'The value is not valid JSON.' };
    }
  }
  if (fields.length === 1 && fields[0]!.name === 'value') return { value: texts.value ?? '' };
  const value: Record<string, unknown> = {};
  for (const f of fields) {
    const t = texts[f.name] ?? '';
    if (!t.trim()) continue;
    value[f.name] = f.name === 'scopes' ? t.split(/\s+/).filter(Boolean) : f.input === 'text' ? t.trim() : t;
  }
  return { value: value as CredentialValue };
}

/**
 * A revealed value as labelled fields: one for a text value, one per field of an object (a
 * non-text field as its JSON).
 */
export function fieldsOf(
  type: CredentialType,
  value: unknown,
): { name: string; label: string; text: string }[] {
  if (typeof value === 'string') return [{ name: 'value', label: 'Value', text: value }];
  if (value === null || typeof value !== 'object')
    return [{ name: 'value', label: 'Value', text: JSON.stringify(value) }];
  const labels = new Map(FORM_FIELDS[type].map((f) => [f.name, f.label]));
  return Object.entries(value as Record<string, unknown>).map(([name, v]) => ({
    name,
    label: labels.get(name) ?? name,
    text: typeof v === 'string' ? v : Array.isArray(v) && name === 'scopes' ? v.join(' ') : JSON.stringify(v),
  }));
}
