import type { CredentialType } from '../core/types.js';
import { ApiError, type ApiIssue } from './api-error.js';
import type {
  ApiPage,
  AuditCheckpointResource,
  AuditConsistencyProofResource,
  AuditConsistencyQuery,
  AuditEventResource,
  AuditInclusionProofResource,
  AuditKeyRotationResource,
  AuditKeysResource,
  AuditLeavesPage,
  AuditLeavesQuery,
  AuditProofQuery,
  AuditQuery,
  CreatedWebhookResource,
  CreatePrincipalBody,
  CreateTenantAdminTokenBody,
  CreateTenantBody,
  CreateTokenBody,
  CreateVaultBody,
  CreateWebhookBody,
  CredentialResource,
  CredentialValue,
  CredentialVersionList,
  DeleteCredentialOptions,
  DeleteVaultOptions,
  IssuedToken,
  ListCredentialsQuery,
  ListTenantsQuery,
  ListVaultsQuery,
  PageQuery,
  PrincipalResource,
  ReplacedSigningSecret,
  RevealBody,
  RevealedCredentialResource,
  RewrapResult,
  RewrapVaultKeysBody,
  RootKeyStatus,
  RootRotationResult,
  RotateBody,
  RotationResult,
  StoreCredentialBody,
  StoredCredentialResource,
  TenantResource,
  TokenResource,
  UpdateCredentialBody,
  UpdateVaultBody,
  VaultKeyRotation,
  VaultKeyStatus,
  VaultResource,
  WebhookDeliveryResource,
  WebhookResource,
  WebhookTestResult,
  WhoamiResource,
} from './api-types.js';

export interface RegistryClientOptions {
  /** The server's root, e.g. `http://127.0.0.1:8200` (a trailing slash is ignored). */
  addr: string;
  /** Bearer token: a platform token for tenants, a tenant token for everything else. */
  token?: string;
  /** (Default: the global `fetch`) */
  fetch?: typeof fetch;
}

type QueryValue = string | number | boolean | Date | undefined;

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
}

/**
 * A typed client of the registry's `/v1` HTTP API: one method per endpoint, responses as JSON with
 * ISO 8601 timestamps. Every failure is thrown as an {@link ApiError}; no message it builds ever
 * contains a request or response body, so a secret cannot leak through an error.
 *
 * @example
 * const client = new RegistryClient({ addr: 'http://127.0.0.1:8200', token: process.env.CREDREG_TOKEN });
 * const vault = await client.createVault({ name: 'payments' });
 * const stripe = await client.storeCredential(vault.id, { name: 'stripe', type: 'api_key', value: 'sk_live_…' });
 * const { value } = await client.revealCredential(stripe.id, { reason: 'nightly invoices' });
 */
export class RegistryClient {
  /** The server's root, without a trailing slash. */
  readonly addr: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  /** Throws a TypeError unless `addr` is an http or https URL. */
  constructor(options: RegistryClientOptions) {
    if (!/^https?:\/\/[^/]/i.test(options.addr) || !URL.canParse(options.addr)) {
      throw new TypeError(
        `the server address must be an http(s) URL such as http://127.0.0.1:8200, not "${options.addr}"`,
      );
    }
    this.addr = options.addr.replace(/\/+$/, '');
    this.#token = options.token;
    // Called as a method of this object, a browser's own fetch throws "Illegal invocation".
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `GET /healthz`: whether the process is up. */
  health(): Promise<{ status: string }> {
    return this.#call('GET', '/healthz');
  }

  /** `GET /v1/whoami`: what this client's token is, its role, vault scope and capabilities. */
  whoami(): Promise<WhoamiResource> {
    return this.#call('GET', '/v1/whoami');
  }

  /** `POST /v1/tenants` (platform token). */
  createTenant(body: CreateTenantBody): Promise<TenantResource> {
    return this.#call('POST', '/v1/tenants', { body });
  }

  /** `GET /v1/tenants/{tenantId}` (platform token). */
  getTenant(tenantId: string): Promise<TenantResource> {
    return this.#call('GET', `/v1/tenants/${segment(tenantId)}`);
  }

  /** `GET /v1/tenants` (platform token); `name` finds the one tenant of that exact name. */
  listTenants(query: ListTenantsQuery = {}): Promise<ApiPage<TenantResource>> {
    return this.#call('GET', '/v1/tenants', { query: { ...query } });
  }

  /**
   * `POST /v1/tenants/{tenantId}/tokens` (platform token): creates a principal named `name` in the
   * tenant and a token for it, typically the tenant's first administrator.
   */
  createTenantAdminToken(tenantId: string, body: CreateTenantAdminTokenBody): Promise<IssuedToken> {
    return this.#call('POST', `/v1/tenants/${segment(tenantId)}/tokens`, { body });
  }

  /** `POST /v1/principals`. */
  createPrincipal(body: CreatePrincipalBody): Promise<PrincipalResource> {
    return this.#call('POST', '/v1/principals', { body });
  }

  /** `GET /v1/principals`. */
  listPrincipals(query: PageQuery = {}): Promise<ApiPage<PrincipalResource>> {
    return this.#call('GET', '/v1/principals', { query: { ...query } });
  }

  /** `POST /v1/tokens`: the answer holds the token's secret, which is never returned again. */
  createToken(body: CreateTokenBody): Promise<IssuedToken> {
    return this.#call('POST', '/v1/tokens', { body });
  }

  /** `GET /v1/tokens`. */
  listTokens(query: PageQuery = {}): Promise<ApiPage<TokenResource>> {
    return this.#call('GET', '/v1/tokens', { query: { ...query } });
  }

  /** `DELETE /v1/tokens/{id}`. */
  async revokeToken(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/tokens/${segment(id)}`);
  }

  /** `POST /v1/vaults`. */
  createVault(body: CreateVaultBody): Promise<VaultResource> {
    return this.#call('POST', '/v1/vaults', { body });
  }

  /** `GET /v1/vaults`; `name` (exact) or `prefix` lists only the vaults so named. */
  listVaults(query: ListVaultsQuery = {}): Promise<ApiPage<VaultResource>> {
    return this.#call('GET', '/v1/vaults', { query: { ...query } });
  }

  /** `GET /v1/vaults/{id}`. */
  getVault(id: string): Promise<VaultResource> {
    return this.#call('GET', `/v1/vaults/${segment(id)}`);
  }

  /** `GET /v1/vaults/by-name/{name}`: the vault of this name in the tenant (404 as for a missing id). */
  getVaultByName(name: string): Promise<VaultResource> {
    return this.#call('GET', `/v1/vaults/by-name/${segment(name)}`);
  }

  /** `PATCH /v1/vaults/{id}`: the default expiry alerts of its credentials (null: the system default). */
  updateVault(id: string, body: UpdateVaultBody): Promise<VaultResource> {
    return this.#call('PATCH', `/v1/vaults/${segment(id)}`, { body });
  }

  /** `DELETE /v1/vaults/{id}`; `force` deletes a vault that still holds credentials. */
  async deleteVault(id: string, options: DeleteVaultOptions = {}): Promise<void> {
    await this.#call('DELETE', `/v1/vaults/${segment(id)}`, { query: { force: options.force || undefined } });
  }

  /**
   * `POST /v1/backup` (platform admin): a snapshot of the embedded store, a gzipped tarball for
   * `credreg restore`. On PostgreSQL an ApiError (409) that says to use pg_dump.
   */
  async backup(): Promise<Uint8Array> {
    const headers: Record<string, string> = { accept: 'application/gzip, application/problem+json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await this.#fetch(new URL(`${this.addr}/v1/backup`), { method: 'POST', headers });
    } catch (cause) {
      throw this.#unreachable(cause);
    }
    if (!response.ok) throw await this.#problem(response);
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (cause) {
      throw this.#unreachable(cause);
    }
  }

  /** `POST /v1/keys/rotate-root` (platform admin): re-wraps vault keys not under the current root key. */
  rotateRootKey(): Promise<RootRotationResult> {
    return this.#call('POST', '/v1/keys/rotate-root');
  }

  /** `GET /v1/keys/root` (platform admin): which root keys wrap the vault keys; what a rotation has left. */
  rootKeyStatus(): Promise<RootKeyStatus> {
    return this.#call('GET', '/v1/keys/root');
  }

  /** `GET /v1/vaults/{id}/keys`: each vault-key version and how many data keys still use it. */
  vaultKeyStatus(id: string): Promise<VaultKeyStatus> {
    return this.#call('GET', `/v1/vaults/${segment(id)}/keys`);
  }

  /** `POST /v1/vaults/{id}/keys/rotate`: a new vault-key version, used by new writes at once. */
  rotateVaultKey(id: string): Promise<VaultKeyRotation> {
    return this.#call('POST', `/v1/vaults/${segment(id)}/keys/rotate`);
  }

  /** `POST /v1/vaults/{id}/keys/rewrap`: moves data keys to the current version, in batches. */
  rewrapVaultKeys(id: string, body: RewrapVaultKeysBody = {}): Promise<RewrapResult> {
    return this.#call('POST', `/v1/vaults/${segment(id)}/keys/rewrap`, { body });
  }

  /** `DELETE /v1/vaults/{id}/keys/{version}`: refused (409) while data keys still use it. */
  async destroyVaultKeyVersion(id: string, version: number): Promise<void> {
    await this.#call('DELETE', `/v1/vaults/${segment(id)}/keys/${version}`);
  }

  /** `POST /v1/vaults/{vaultId}/credentials`: the answer is the credential's metadata, not its value. */
  storeCredential<T extends CredentialType>(
    vaultId: string,
    body: StoreCredentialBody<T>,
  ): Promise<StoredCredentialResource> {
    return this.#call('POST', `/v1/vaults/${segment(vaultId)}/credentials`, { body });
  }

  /** `GET /v1/vaults/{vaultId}/credentials`. */
  listCredentials(vaultId: string, query: ListCredentialsQuery = {}): Promise<ApiPage<CredentialResource>> {
    return this.#call('GET', `/v1/vaults/${segment(vaultId)}/credentials`, { query: { ...query } });
  }

  /** `GET /v1/credentials/{id}`: metadata only. */
  getCredential(id: string): Promise<CredentialResource> {
    return this.#call('GET', `/v1/credentials/${segment(id)}`);
  }

  /**
   * `PATCH /v1/credentials/{id}`. Naming a `webhook` rotator answers its signing secret in
   * `rotation.signingSecret`, this once.
   */
  updateCredential(id: string, body: UpdateCredentialBody): Promise<StoredCredentialResource> {
    return this.#call('PATCH', `/v1/credentials/${segment(id)}`, { body });
  }

  /**
   * `POST /v1/credentials/{id}/rotation/signing-secret`: a new signing secret for the credential's
   * `webhook` rotator, shown once; the old one is still signed with for 24 hours.
   */
  replaceSigningSecret(id: string): Promise<ReplacedSigningSecret> {
    return this.#call('POST', `/v1/credentials/${segment(id)}/rotation/signing-secret`);
  }

  /** `DELETE /v1/credentials/{id}`: a soft delete, restorable during the recovery window. */
  deleteCredential(id: string, options: DeleteCredentialOptions = {}): Promise<CredentialResource> {
    return this.#call('DELETE', `/v1/credentials/${segment(id)}`, {
      query: { recoveryWindowDays: options.recoveryWindowDays },
    });
  }

  /** `POST /v1/credentials/{id}/restore`. */
  restoreCredential(id: string): Promise<CredentialResource> {
    return this.#call('POST', `/v1/credentials/${segment(id)}/restore`);
  }

  /** `POST /v1/credentials/{id}/reveal`: the value, once the access log has recorded why. */
  revealCredential(id: string, body: RevealBody): Promise<RevealedCredentialResource> {
    return this.#call('POST', `/v1/credentials/${segment(id)}/reveal`, { body });
  }

  /** `POST /v1/credentials/{id}/rotate`: stores a new version and makes it current. */
  rotateCredential<V extends CredentialValue>(id: string, body: RotateBody<V>): Promise<RotationResult> {
    return this.#call('POST', `/v1/credentials/${segment(id)}/rotate`, { body });
  }

  /** `GET /v1/credentials/{id}/versions`. */
  listVersions(id: string): Promise<CredentialVersionList> {
    return this.#call('GET', `/v1/credentials/${segment(id)}/versions`);
  }

  /**
   * `GET /v1/secrets/{vault}/{name}`: the metadata of the live credential `name` in the vault
   * named `vault` (each path segment is URL-encoded, so a `/` in either is never a separator).
   */
  getSecret(vault: string, name: string): Promise<CredentialResource> {
    return this.#call('GET', secretPath(vault, name));
  }

  /** `POST /v1/secrets/{vault}/{name}/reveal`: as {@link revealCredential}, by path. */
  revealSecret(vault: string, name: string, body: RevealBody): Promise<RevealedCredentialResource> {
    return this.#call('POST', `${secretPath(vault, name)}/reveal`, { body });
  }

  /** `POST /v1/secrets/{vault}/{name}/rotate`: as {@link rotateCredential}, by path. */
  rotateSecret<V extends CredentialValue>(
    vault: string,
    name: string,
    body: RotateBody<V>,
  ): Promise<RotationResult> {
    return this.#call('POST', `${secretPath(vault, name)}/rotate`, { body });
  }

  /** `GET /v1/secrets/{vault}/{name}/versions`: as {@link listVersions}, by path. */
  listSecretVersions(vault: string, name: string): Promise<CredentialVersionList> {
    return this.#call('GET', `${secretPath(vault, name)}/versions`);
  }

  /** `GET /v1/audit`: the tenant's access log, newest first. */
  listAudit(query: AuditQuery = {}): Promise<ApiPage<AuditEventResource>> {
    return this.#call('GET', '/v1/audit', { query: { ...query } });
  }

  /** `GET /v1/audit/keys`: the checkpoint keys that verify the tenant's checkpoints, current and retired. */
  auditKeys(): Promise<AuditKeysResource> {
    return this.#call('GET', '/v1/audit/keys');
  }

  /** `POST /v1/audit/keys/rotate`: a new checkpoint key; the old one stays listed, with its `validTo`. */
  rotateAuditKey(): Promise<AuditKeyRotationResource> {
    return this.#call('POST', '/v1/audit/keys/rotate');
  }

  /** `GET /v1/audit/checkpoint`: a signed checkpoint covering every row committed before the call. */
  auditCheckpoint(): Promise<AuditCheckpointResource> {
    return this.#call('GET', '/v1/audit/checkpoint');
  }

  /** `GET /v1/audit/proof`: one leaf's inclusion proof in the tree of `treeSize` leaves. */
  auditProof(query: AuditProofQuery): Promise<AuditInclusionProofResource> {
    return this.#call('GET', '/v1/audit/proof', { query: { ...query } });
  }

  /** `GET /v1/audit/consistency`: the proof that the tree of `to` leaves extends the tree of `from`. */
  auditConsistency(query: AuditConsistencyQuery): Promise<AuditConsistencyProofResource> {
    return this.#call('GET', '/v1/audit/consistency', { query: { ...query } });
  }

  /** `GET /v1/audit/leaves`: a page of the log's leaves with their rows, and with `proofs` their proofs. */
  auditLeaves(query: AuditLeavesQuery): Promise<AuditLeavesPage> {
    return this.#call('GET', '/v1/audit/leaves', { query: { ...query } });
  }

  /** `POST /v1/webhooks`: the answer holds the subscription's `whsec_…` secret, which is never returned again. */
  createWebhook(body: CreateWebhookBody): Promise<CreatedWebhookResource> {
    return this.#call('POST', '/v1/webhooks', { body });
  }

  /** `GET /v1/webhooks`: the tenant's subscriptions (never their secrets). */
  listWebhooks(query: PageQuery = {}): Promise<ApiPage<WebhookResource>> {
    return this.#call('GET', '/v1/webhooks', { query: { ...query } });
  }

  /** `GET /v1/webhooks/{id}`: one subscription (never its secret). */
  getWebhook(id: string): Promise<WebhookResource> {
    return this.#call('GET', `/v1/webhooks/${segment(id)}`);
  }

  /** `DELETE /v1/webhooks/{id}`: unsubscribes; its pending deliveries and its secret go with it. */
  async deleteWebhook(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/webhooks/${segment(id)}`);
  }

  /** `GET /v1/webhooks/{id}/deliveries`: the subscription's deliveries, newest first. */
  listWebhookDeliveries(id: string, query: PageQuery = {}): Promise<ApiPage<WebhookDeliveryResource>> {
    return this.#call('GET', `/v1/webhooks/${segment(id)}/deliveries`, { query: { ...query } });
  }

  /** `POST /v1/webhooks/{id}/test`: queues a `webhook.test` event for this subscription only. */
  testWebhook(id: string): Promise<WebhookTestResult> {
    return this.#call('POST', `/v1/webhooks/${segment(id)}/test`);
  }

  /** `POST /v1/webhooks/{id}/enable`: enables a subscription disabled after repeated failed deliveries. */
  enableWebhook(id: string): Promise<WebhookResource> {
    return this.#call('POST', `/v1/webhooks/${segment(id)}/enable`);
  }

  async #call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.addr}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) {
        url.searchParams.set(key, value instanceof Date ? value.toISOString() : String(value));
      }
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    // Serialized before the request so that a body that is not JSON is not reported as a network error.
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    try {
      response = await this.#fetch(url, { method, headers, body });
    } catch (cause) {
      throw this.#unreachable(cause);
    }
    if (!response.ok) throw await this.#problem(response);
    if (response.status === 204) return undefined as T;

    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw this.#unreachable(cause);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      // No cause: a SyntaxError quotes the text, and a reveal's text holds a secret.
      throw new ApiError({
        status: response.status,
        code: 'BAD_RESPONSE',
        detail: `the server at ${this.addr} answered ${method} ${path} with a body that is not JSON`,
      });
    }
  }

  #unreachable(cause: unknown): ApiError {
    const reason = networkReason(cause);
    return new ApiError({
      status: 0,
      code: 'UNAVAILABLE',
      detail: `the server at ${this.addr} could not be reached${reason ? ` (${reason})` : ''}`,
      cause,
    });
  }

  /** Reads a problem document; anything else (a proxy's page, a bare status) still becomes an ApiError. */
  async #problem(response: Response): Promise<ApiError> {
    const status = response.status;
    const fallback = `the server at ${this.addr} answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
    const headerRequestId = response.headers.get('x-request-id');
    let doc: Record<string, unknown> = {};
    if (/json/i.test(response.headers.get('content-type') ?? '')) {
      try {
        const parsed: unknown = JSON.parse(await response.text());
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
          doc = parsed as Record<string, unknown>;
        }
      } catch {
        // A garbled error body says no more than the status does.
      }
    } else {
      await response.body?.cancel().catch(() => undefined);
    }
    return new ApiError({
      status,
      code: text(doc.code) ?? `HTTP_${status}`,
      detail: text(doc.detail) ?? text(doc.message) ?? text(doc.title) ?? fallback,
      issues: issuesOf(doc.issues),
      requestId: text(doc.requestId) ?? headerRequestId,
      // Only a document that says what it is counts as a problem document; any other JSON does not.
      problem: text(doc.code) !== undefined || text(doc.type) !== undefined ? doc : null,
    });
  }
}

function segment(id: string): string {
  return encodeURIComponent(id);
}

const secretPath = (vault: string, name: string) => `/v1/secrets/${segment(vault)}/${segment(name)}`;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function issuesOf(value: unknown): ApiIssue[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((i: unknown) => {
    if (i === null || typeof i !== 'object') return [];
    const { path, problem } = i as Record<string, unknown>;
    return typeof path === 'string' && typeof problem === 'string' ? [{ path, problem }] : [];
  });
}

/**
 * undici reports only "fetch failed" and keeps the useful part in `cause`: a system error code
 * (ECONNREFUSED, ENOTFOUND, …) or, for requests it refuses to send, a message such as "bad port".
 */
function networkReason(err: unknown): string | undefined {
  let reason: string | undefined;
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (depth > 0) reason = current.message;
    current = current.cause;
  }
  return reason;
}
