/**
 * How the CLI names a vault or a credential: by id, or by name and path.
 *
 * | written                    | means                                                   |
 * |----------------------------|---------------------------------------------------------|
 * | `3f0c…` (a UUID)           | the vault or credential of that id                      |
 * | `payments`                 | the vault named `payments` in your tenant               |
 * | `payments/stripe`          | the live credential `stripe` in the vault `payments`    |
 * | `payments/db#password`     | the same, and one field of its structured value         |
 * | `3f0c…#password`           | a credential by id, and one field of its value          |
 *
 * Names are 1–100 letters, digits, `.`, `_` or `-`, so `/` and `#` are never part of one. Text in
 * the form of a UUID is always read as an id (a vault named like a UUID is reached by its id).
 * Names are resolved by the server's by-name routes (`/v1/vaults/by-name/{name}`,
 * `/v1/secrets/{vault}/{name}`), under the same tenant and vault scope as an id.
 */
import { InvalidArgumentError } from 'commander';
import type { CredentialResource } from '../client/api-types.js';
import type { RegistryClient } from '../client/registry-client.js';

/** A credential as written on the command line: by id, or by its vault's name and its own. */
export type CredentialRef = ({ id: string } | { vault: string; name: string }) & {
  /** After `#`: one field of a structured value (`password`, `access_token`, …). */
  field?: string;
};

/** A vault as written on the command line. */
export type VaultRef = { id: string } | { name: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const FIELD = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

const nameProblem = (what: string, text: string) =>
  new InvalidArgumentError(
    `${what} "${text}" is not a name: use 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit`,
  );

/**
 * Parses a credential reference: a UUID or `vault/name`, either with an optional `#field`.
 * Throws commander's InvalidArgumentError (a usage error) otherwise.
 *
 * @example
 * parseCredentialRef('payments/stripe#password'); // { vault: 'payments', name: 'stripe', field: 'password' }
 * parseCredentialRef('3f0c2c1e-…');               // { id: '3f0c2c1e-…' }
 */
export function parseCredentialRef(text: string): CredentialRef {
  const hash = text.indexOf('#');
  const target = hash === -1 ? text : text.slice(0, hash);
  const field = hash === -1 ? undefined : text.slice(hash + 1);
  if (field !== undefined && !FIELD.test(field)) {
    throw new InvalidArgumentError(`"#${field}" is not a field name (letters, digits, "_", "." or "-")`);
  }
  const withField = field !== undefined ? { field } : {};
  if (UUID.test(target)) return { id: target.toLowerCase(), ...withField };
  const parts = target.split('/');
  if (parts.length !== 2) {
    throw new InvalidArgumentError(
      `"${target}" names no credential: give its id, or its path as vault/name (e.g. payments/stripe)`,
    );
  }
  const [vault, name] = parts as [string, string];
  if (!NAME.test(vault)) throw nameProblem('the vault', vault);
  if (!NAME.test(name)) throw nameProblem('the credential', name);
  return { vault, name, ...withField };
}

/** Whether text is in the form of a UUID (any case), so read as an id rather than a name. */
export const isUuidText = (text: string): boolean => UUID.test(text);

/**
 * Parses a vault reference: a UUID or a name.
 * @example parseVaultRef('payments'); // { name: 'payments' }
 */
export function parseVaultRef(text: string): VaultRef {
  if (UUID.test(text)) return { id: text.toLowerCase() };
  if (text.includes('/')) {
    throw new InvalidArgumentError(`"${text}" names no vault: give its id or its name (no "/")`);
  }
  if (!NAME.test(text)) throw nameProblem('the vault', text);
  return { name: text };
}

/** Refuses a `#field` where a command acts on the whole credential. */
export function wholeCredential(ref: CredentialRef, text: string): CredentialRef {
  if (ref.field !== undefined) {
    throw new InvalidArgumentError(`"${text}": this command takes no #field, only the credential`);
  }
  return ref;
}

/** The vault's id: itself, or looked up by name (a 404 when the name is not one of your vaults). */
export async function vaultIdOf(client: RegistryClient, text: string): Promise<string> {
  const ref = parseVaultRef(text);
  return 'id' in ref ? ref.id : (await client.getVaultByName(ref.name)).id;
}

/**
 * The credential's id: itself, or the live credential at its path (a 404 when there is none).
 * `deleted`: a soft-deleted credential at that path instead (for `cred restore`), refused when
 * there are several, which only their ids tell apart.
 */
export async function credentialIdOf(
  client: RegistryClient,
  text: string,
  { deleted = false }: { deleted?: boolean } = {},
): Promise<string> {
  const ref = wholeCredential(parseCredentialRef(text), text);
  if ('id' in ref) return ref.id;
  if (!deleted) return (await client.getSecret(ref.vault, ref.name)).id;
  const vaultId = (await client.getVaultByName(ref.vault)).id;
  const page = await client.listCredentials(vaultId, { name: ref.name, includeDeleted: true, limit: 100 });
  const gone = page.items.filter((c) => c.deletedAt !== null);
  if (gone.length === 1) return gone[0]!.id;
  if (gone.length === 0) throw new Error(`${text}: no deleted credential of that name; nothing to restore`);
  throw new Error(
    `${text}: ${gone.length} deleted credentials have that name; give the id of one (credreg cred list ${ref.vault} --include-deleted)`,
  );
}

/** The credential's metadata, by id or by path (`GET /v1/secrets/{vault}/{name}`: one call either way). */
export async function credentialOf(client: RegistryClient, text: string): Promise<CredentialResource> {
  const ref = wholeCredential(parseCredentialRef(text), text);
  return 'id' in ref ? client.getCredential(ref.id) : client.getSecret(ref.vault, ref.name);
}
