import { RegistryError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type {
  AccessLogRepository,
  CredentialRepository,
  EventRepository,
  ExpiryNoticeRepository,
  PlatformTx,
  PrincipalRepository,
  RegistryStore,
  RotationSecretRepository,
  TenantTx,
  TokenRepository,
  VaultKeyRepository,
  VaultRepository,
  VersionRepository,
  WebhookDeliveryRepository,
  WebhookSubscriptionRepository,
} from '../core/ports.js';
import { translate } from './error-translation.js';
import { SqlAccessLogRepository } from './repositories/access-log-repository.js';
import { SqlCredentialRepository } from './repositories/credential-repository.js';
import { SqlEventRepository } from './repositories/event-repository.js';
import { SqlExpiryNoticeRepository } from './repositories/expiry-notice-repository.js';
import { SqlPlatformTx } from './repositories/platform-tx.js';
import { SqlPrincipalRepository } from './repositories/principal-repository.js';
import { SqlRotationSecretRepository } from './repositories/rotation-secret-repository.js';
import { SqlTokenRepository } from './repositories/token-repository.js';
import { SqlVaultKeyRepository } from './repositories/vault-key-repository.js';
import { SqlVaultRepository } from './repositories/vault-repository.js';
import { SqlVersionRepository } from './repositories/version-repository.js';
import { SqlWebhookDeliveryRepository } from './repositories/webhook-delivery-repository.js';
import { SqlWebhookSubscriptionRepository } from './repositories/webhook-subscription-repository.js';
import type { DbRoles } from './roles.js';
import type { SqlClient, SqlDatabase } from './sql.js';

/**
 * `RegistryStore` on PostgreSQL (either adapter). Every transaction first switches to a role that
 * row-level security applies to and, for tenant work, sets the tenant, both transaction-local so
 * nothing survives on a pooled connection. The SQL itself is in `repositories/`, one file a table.
 */
export class SqlRegistryStore implements RegistryStore {
  readonly #db: SqlDatabase;
  readonly #roles: DbRoles;

  constructor(db: SqlDatabase, roles: DbRoles) {
    this.#db = db;
    this.#roles = roles;
  }

  async withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    /* Precondition: the tenant id is a UUID (it is written into the prelude, so this also guards injection). */
    if (!isUuid(tenantId)) throw new RegistryError('TENANT_REQUIRED', 'a valid tenant id is required');
    // SET LOCAL (not SELECT set_config): same effect, and no result rows to send and parse.
    const prelude = `SET LOCAL ROLE "${this.#roles.runtime}"; SET LOCAL app.current_tenant_id = '${tenantId}'`;
    return this.#run((c) => fn(new SqlTenantTx(c, tenantId)), prelude);
  }

  async withPlatform<T>(fn: (tx: PlatformTx) => Promise<T>): Promise<T> {
    return this.#run((c) => fn(new SqlPlatformTx(c)), `SET LOCAL ROLE "${this.#roles.platform}"`);
  }

  async #run<T>(fn: (c: SqlClient) => Promise<T>, prelude: string): Promise<T> {
    try {
      return await this.#db.transaction(fn, prelude);
    } catch (err) {
      throw translate(err);
    }
  }
}

/**
 * One transaction's repositories, each made on first use: a reveal, the hot path, touches two of
 * the seven, so it pays for two small objects rather than seven.
 */
class SqlTenantTx implements TenantTx {
  #principals?: PrincipalRepository;
  #tokens?: TokenRepository;
  #vaults?: VaultRepository;
  #vaultKeys?: VaultKeyRepository;
  #credentials?: CredentialRepository;
  #versions?: VersionRepository;
  #accessLog?: AccessLogRepository;
  #events?: EventRepository;
  #webhooks?: WebhookSubscriptionRepository;
  #deliveries?: WebhookDeliveryRepository;
  #expiryNotices?: ExpiryNoticeRepository;
  #rotationSecrets?: RotationSecretRepository;

  constructor(
    private readonly c: SqlClient,
    readonly tenantId: string,
  ) {}

  get principals() {
    this.#principals ??= new SqlPrincipalRepository(this.c, this.tenantId);
    return this.#principals;
  }

  get tokens() {
    this.#tokens ??= new SqlTokenRepository(this.c, this.tenantId);
    return this.#tokens;
  }

  get vaults() {
    this.#vaults ??= new SqlVaultRepository(this.c, this.tenantId);
    return this.#vaults;
  }

  get vaultKeys() {
    this.#vaultKeys ??= new SqlVaultKeyRepository(this.c, this.tenantId);
    return this.#vaultKeys;
  }

  get credentials() {
    this.#credentials ??= new SqlCredentialRepository(this.c, this.tenantId);
    return this.#credentials;
  }

  get versions() {
    this.#versions ??= new SqlVersionRepository(this.c, this.tenantId);
    return this.#versions;
  }

  get accessLog() {
    this.#accessLog ??= new SqlAccessLogRepository(this.c, this.tenantId);
    return this.#accessLog;
  }

  get events() {
    this.#events ??= new SqlEventRepository(this.c, this.tenantId);
    return this.#events;
  }

  get webhooks() {
    this.#webhooks ??= new SqlWebhookSubscriptionRepository(this.c, this.tenantId);
    return this.#webhooks;
  }

  get deliveries() {
    this.#deliveries ??= new SqlWebhookDeliveryRepository(this.c, this.tenantId);
    return this.#deliveries;
  }

  get expiryNotices() {
    this.#expiryNotices ??= new SqlExpiryNoticeRepository(this.c, this.tenantId);
    return this.#expiryNotices;
  }

  get rotationSecrets() {
    this.#rotationSecrets ??= new SqlRotationSecretRepository(this.c, this.tenantId);
    return this.#rotationSecrets;
  }
}
