import type {
  AccessLogRepository,
  AuditLogRepository,
  AuditSinkRepository,
  CredentialRepository,
  EventRepository,
  ExpiryNoticeRepository,
  PrincipalRepository,
  RotationSecretRepository,
  TenantTx,
  TokenRepository,
  VaultKeyRepository,
  VaultRepository,
  VersionRepository,
  WebhookDeliveryRepository,
  WebhookSubscriptionRepository,
} from '../../core/ports.js';
import type { SqlClient } from '../sql.js';
import { SqlAccessLogRepository } from './access-log-repository.js';
import { SqlAuditLogRepository } from './audit-log-repository.js';
import { SqlAuditSinkRepository } from './audit-sink-repository.js';
import { SqlCredentialRepository } from './credential-repository.js';
import { SqlEventRepository } from './event-repository.js';
import { SqlExpiryNoticeRepository } from './expiry-notice-repository.js';
import { SqlPrincipalRepository } from './principal-repository.js';
import { SqlRotationSecretRepository } from './rotation-secret-repository.js';
import { SqlTokenRepository } from './token-repository.js';
import { SqlVaultKeyRepository } from './vault-key-repository.js';
import { SqlVaultRepository } from './vault-repository.js';
import { SqlVersionRepository } from './version-repository.js';
import { SqlWebhookDeliveryRepository } from './webhook-delivery-repository.js';
import { SqlWebhookSubscriptionRepository } from './webhook-subscription-repository.js';

/**
 * One transaction's repositories, each made on first use: a reveal, the hot path, touches two of
 * the seven, so it pays for two small objects rather than seven.
 */
export class SqlTenantTx implements TenantTx {
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
  #auditLog?: AuditLogRepository;
  #auditSinks?: AuditSinkRepository;

  constructor(
    protected readonly c: SqlClient,
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

  get auditLog() {
    this.#auditLog ??= new SqlAuditLogRepository(this.c, this.tenantId);
    return this.#auditLog;
  }

  get auditSinks() {
    this.#auditSinks ??= new SqlAuditSinkRepository(this.c, this.tenantId);
    return this.#auditSinks;
  }
}
