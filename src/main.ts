/**
 * The one place that wires concrete pieces together: a database adapter, the store on it, the
 * root key provider, the key ring and the envelope, into the core's registry.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type {
  AuditSinkConfig,
  Config,
  KeyProviderConfig,
  MigrationConfig,
  SyslogTlsConfig,
} from './config.js';
import type { AuditSinkWiring } from './core/audit-sinks.js';
import { describeError } from './core/audited-operation.js';
import { RegistryError } from './core/errors.js';
import {
  type AuditSink,
  type Clock,
  type Logger,
  type RootKeyProvider,
  systemClock,
  type WebhookGateway,
} from './core/ports.js';
import { createRegistry, type Registry } from './core/registry.js';
import type { RotationObserver } from './core/rotation-observer.js';
import { signingSecretsReader } from './core/rotation-signing-secrets.js';
import type { Rotator } from './core/rotator.js';
import type { RequestContext } from './core/types.js';
import { auditLogCrypto } from './crypto/audit-log-crypto.js';
import { aesGcmEnvelope } from './crypto/envelope.js';
import { CachingKeyRing, type KeyRingStats } from './crypto/key-ring.js';
import type { GroupCommitStats } from './db/group-commit.js';
import { appliedVersion, latestVersion, type MigrationResult, migrate } from './db/migrate.js';
import { openPg } from './db/pg-adapter.js';
import { openPglite } from './db/pglite-adapter.js';
import { assertRlsEnforced } from './db/role-check.js';
import { rolesFromPrefix } from './db/roles.js';
import type { Backend, SqlDatabase } from './db/sql.js';
import { SqlRegistryStore } from './db/tenant-store.js';
import { nextAttemptAt, nextAttemptDelay, type RetryPolicy } from './events/retry-schedule.js';
import { SafeHttpClient } from './events/safe-http.js';
import { checkUrl } from './events/url-policy.js';
import { WebhookSender } from './events/webhook-sender.js';
import { generateWebhookSecret } from './events/webhook-signer.js';
import { AwsKmsKeyProvider } from './keys/aws-kms-provider.js';
import { GuardedProvider } from './keys/guarded-provider.js';
import { decodeRootKey, LocalKeyProvider, loadRootKeyFile } from './keys/local-key-provider.js';
import { Pkcs11KeyProvider } from './keys/pkcs11-provider.js';
import { ProviderChain } from './keys/provider-chain.js';
import { VaultTransitKeyProvider } from './keys/vault-transit-provider.js';
import { mysqlRotator } from './rotators/mysql.js';
import { oauth2RefreshRotator } from './rotators/oauth2-refresh.js';
import { postgresqlRotator } from './rotators/postgresql.js';
import { randomRotator } from './rotators/random.js';
import { webhookRotator } from './rotators/webhook.js';
import { FileSink } from './sinks/file-sink.js';
import { HttpSink } from './sinks/http-sink.js';
import { StdoutSink } from './sinks/stdout-sink.js';
import { SyslogSink, type SyslogTlsOptions } from './sinks/syslog-sink.js';

export interface OpenOptions {
  config: Readonly<Config>;
  logger: Logger;
  /** Apply pending migrations before starting. (Default: false) */
  migrate?: boolean;
  clock?: Clock;
  /**
   * Rotators of your own (see `Rotator` in core/rotator.ts), offered beside the built-in ones; one
   * of the same type replaces the built-in. (Default: none)
   */
  rotators?: readonly Rotator[];
}

export interface RegistryHandle extends Registry {
  readonly backend: Backend;
  /** Database reachable and migrations current, and the root key provider reachable. */
  readiness(): Promise<Readiness>;
  keyRingStats(): Readonly<KeyRingStats>;
  /** Group-committed reveal batches since start-up, and how many had each size (docs/architecture.md). */
  groupCommitStats(): Readonly<GroupCommitStats>;
  /** Webhook deliveries by outcome since start-up, counted by `deliverWebhooks`. */
  webhookStats(): Readonly<Record<'delivered' | 'retried' | 'failed' | 'disabled', number>>;
  /**
   * Calls `observer` as each rotation run ends (rotator, outcome, and a scheduled run's lag), from
   * now on; returns what stops it. Observations, not totals: a lag histogram needs each one.
   */
  onRotation(observer: RotationObserver): () => void;
  /**
   * A consistent snapshot of the embedded store (a gzipped tarball of its data directory, for
   * `credreg restore`), logged with who asked. The root key is not in it. On PostgreSQL, a
   * CONFLICT that says to use pg_dump.
   */
  backup(ctx: RequestContext): Promise<Uint8Array>;
  /** Closes the database (releasing the embedded store's lock) and zeroes cached keys. */
  close(): Promise<void>;
}

export interface ReadinessCheck {
  ready: boolean;
  detail: string;
}

/** What `/readyz` answers: ready only when every check is. */
export interface Readiness extends ReadinessCheck {
  checks: { database: ReadinessCheck; rootKeyProvider: ReadinessCheck };
}

/** Opens the configured database, for `migrate` and for the service. */
export async function openDatabase(
  config: Readonly<MigrationConfig>,
  logger: Logger,
  purpose: 'runtime' | 'migration' = 'runtime',
) {
  const s = config.storage;
  if (s.kind === 'pglite') return openPglite({ dataDir: s.dataDir });
  return openPg({
    connectionString: purpose === 'migration' ? s.migrationUrl : s.url,
    maxConnections: s.poolMax,
    connectTimeoutMs: s.connectTimeoutMs,
    statements: s.statements,
    onError: (err) =>
      logger.warn({ error: describeError(err) }, 'a database connection broke; the pool replaces it'),
  });
}

/** Applies pending migrations with the owner's connection; `credreg migrate` and `serve --migrate`. */
export async function runMigrations(
  config: Readonly<MigrationConfig>,
  logger: Logger,
  db?: SqlDatabase,
): Promise<MigrationResult> {
  const roles = rolesFromPrefix(config.dbRolePrefix);
  const sameConnection =
    db && (config.storage.kind === 'pglite' || config.storage.migrationUrl === config.storage.url);
  const target = sameConnection ? db : await openDatabase(config, logger, 'migration');
  try {
    const result = await migrate(target, roles);
    logger.info(
      { applied: result.applied, current: result.current },
      result.applied.length ? 'migrations applied' : 'schema is current',
    );
    return result;
  } finally {
    if (target !== db) await target.close();
  }
}

/**
 * Opens the registry from configuration. Refuses to start when tenant isolation could be bypassed
 * (see `db/role-check.ts`) or the schema is not migrated.
 */
export async function openRegistry(options: OpenOptions): Promise<RegistryHandle> {
  const { config, logger } = options;
  const db = await openDatabase(config, logger);
  try {
    // A root key file may be created only with a new store: an existing store whose key file
    // went missing must fail loudly, not start over with a key that decrypts nothing.
    const isNewStore = (await appliedVersion(db, rolesFromPrefix(config.dbRolePrefix))) === 0;
    if (options.migrate) await runMigrations(config, logger, db);
    return await assemble(db, { ...options, mayCreateRootKey: isNewStore });
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** Builds the registry on an open, migrated database; tests and the benchmark use it directly. */
export async function assemble(
  db: SqlDatabase,
  options: Omit<OpenOptions, 'migrate'> & { mayCreateRootKey?: boolean },
): Promise<RegistryHandle> {
  const { config, logger } = options;
  const roles = rolesFromPrefix(config.dbRolePrefix);
  const latest = latestVersion();
  const applied = await appliedVersion(db, roles);
  if (applied < latest) {
    throw new RegistryError(
      'CONFIG',
      `the database schema is at version ${applied}, ${latest} is needed: run \`credreg migrate\` (or \`credreg serve --migrate\`)`,
    );
  }
  await assertRlsEnforced(db, roles);
  if (db.backend === 'postgres' && (await connectedAsSuperuser(db))) {
    logger.warn(
      {},
      'connected to PostgreSQL as a superuser: every query still runs as the runtime role, but in production connect as a login role that is only a member of the runtime roles (see README)',
    );
  }
  const current = rootKeyProvider(
    config.keyProvider,
    { mayCreateRootKey: options.mayCreateRootKey === true },
    logger,
  );
  const retired = (config.previousKeyProviders ?? []).map((c) =>
    rootKeyProvider(c, { retired: true }, logger),
  );
  for (const p of retired) assertNotShadowed(current, p);
  // Each provider behind its own deadline and circuit breaker: a retired provider's outage must
  // not cut off the current one.
  const guarded = new GuardedProvider(current, config.keyProviderGuard);
  const keyRing = new CachingKeyRing({
    provider: new ProviderChain(
      guarded,
      retired.map((p) => new GuardedProvider(p, config.keyProviderGuard)),
    ),
    ...config.keyCache,
  });
  const webhookHttp = new SafeHttpClient({ allowPrivate: config.webhooks.allowPrivateUrls });
  const store = new SqlRegistryStore(db, roles);
  const clock = options.clock ?? systemClock;
  const sinkHttp: SafeHttpClient[] = [];
  const sinks = (config.audit.sinks ?? []).map((c) =>
    auditSink(c, (timeoutMs) => {
      const http = new SafeHttpClient({ allowPrivate: config.webhooks.allowPrivateUrls, timeoutMs });
      sinkHttp.push(http);
      return http;
    }),
  );
  const rotationObservers = new Set<RotationObserver>();
  const registry = createRegistry(
    {
      store,
      keyRing,
      envelope: aesGcmEnvelope,
      auditLog: auditLogCrypto,
      clock,
      logger,
      webhooks: webhookGateway(webhookHttp, config.webhooks.allowPrivateUrls),
      auditSinks: auditSinkWiring(sinks, webhookHttp),
      rotationObserver(observation) {
        for (const observe of rotationObservers) {
          try {
            observe(observation);
          } catch {
            // One broken listener must not keep the others from hearing it.
          }
        }
      },
      rotators: new Map<string, Rotator>(
        [
          randomRotator,
          postgresqlRotator,
          mysqlRotator,
          oauth2RefreshRotator({ http: webhookHttp }),
          // Signed with the credential's signing secrets, read in its tenant as the runtime role;
          // signed by the system clock, which the endpoint checks the signature's time against.
          webhookRotator({
            http: webhookHttp,
            signingSecrets: signingSecretsReader({ store, keyRing, envelope: aesGcmEnvelope, clock }),
          }),
          ...(options.rotators ?? []),
        ].map((r) => [r.type, r as Rotator]),
      ),
    },
    { cacheTtlMs: config.http.tokenCacheTtlMs },
  );
  const deliveries = { delivered: 0, retried: 0, failed: 0, disabled: 0 };
  return Object.freeze({
    ...registry,
    backend: db.backend,
    async deliverWebhooks(o?: Parameters<Registry['deliverWebhooks']>[0]) {
      const report = await registry.deliverWebhooks(o);
      for (const k of Object.keys(deliveries) as Array<keyof typeof deliveries>) deliveries[k] += report[k];
      return report;
    },
    webhookStats: () => ({ ...deliveries }),
    async backup(ctx: RequestContext) {
      if (!db.snapshot) {
        throw new RegistryError(
          'CONFLICT',
          'the store is PostgreSQL: back it up with pg_dump (and the roles with pg_dumpall --roles-only), and keep the root key; see docs/operations.md, "Backup and restore"',
        );
      }
      const archive = await db.snapshot();
      logger.info({ actor: ctx.actor, requestId: ctx.requestId, bytes: archive.length }, 'backup taken');
      return archive;
    },
    onRotation(observer: RotationObserver) {
      rotationObservers.add(observer);
      return () => {
        rotationObservers.delete(observer);
      };
    },
    async readiness() {
      let database: ReadinessCheck;
      try {
        const applied = await appliedVersion(db, roles);
        database =
          applied < latest
            ? {
                ready: false,
                detail: `schema at version ${applied}, ${latest} expected: run credreg migrate`,
              }
            : (await readOnly(db))
              ? // A standby reached through a proxy during a failover: reads work, but writes and
                // every access-log row fail, so a load balancer should look elsewhere.
                { ready: false, detail: 'database is read-only (a standby?)' }
              : { ready: true, detail: `schema at version ${applied}` };
      } catch {
        database = { ready: false, detail: 'database unreachable' };
      }
      const provider = await guarded.health();
      return {
        ready: database.ready && provider.healthy,
        detail: `${database.detail}; ${provider.detail}`,
        checks: { database, rootKeyProvider: { ready: provider.healthy, detail: provider.detail } },
      };
    },
    keyRingStats: () => keyRing.stats(),
    groupCommitStats: () => store.groupCommitStats(),
    async close() {
      webhookHttp.close();
      for (const http of sinkHttp) http.close();
      for (const sink of sinks) {
        try {
          await sink.close?.();
        } catch (err) {
          logger.warn({ sink: sink.name, error: describeError(err) }, 'closing an audit sink failed');
        }
      }
      keyRing.clear();
      // Retired providers first: the current one was opened first, so with two PKCS#11 keys in one
      // module it is the one that finalises the module. One provider failing to close must not
      // keep the others, or the database, open.
      for (const p of [...retired].reverse().concat(current)) {
        try {
          p.close?.();
        } catch (err) {
          logger.warn({ provider: p.name, error: describeError(err) }, 'closing a root key provider failed');
        }
      }
      await db.close();
    },
  });
}

/** Webhooks through the SSRF-guarded client, signed per Standard Webhooks, retried on the default schedule. */
function webhookGateway(http: SafeHttpClient, allowPrivate: boolean): WebhookGateway {
  // Signed by the system clock: a receiver checks the signature's time against its own.
  const sender = new WebhookSender({ http });
  return {
    checkUrl: (url) => checkUrl(url, { allowPrivate }),
    generateSecret: generateWebhookSecret,
    deliver: (to, message, options) => sender.deliver(to, message, options),
    nextAttemptAt: (history) => nextAttemptAt(history),
  };
}

/** A sink left alone after a failure: 1 s, doubling with jitter up to a minute, and never given up. */
const SINK_RETRY: RetryPolicy = Object.freeze({
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  giveUpAfterMs: Number.POSITIVE_INFINITY,
  maxAttempts: Number.POSITIVE_INFINITY,
});

function auditSinkWiring(sinks: readonly AuditSink[], webhookHttp: SafeHttpClient): AuditSinkWiring {
  return {
    sinks,
    retryDelayMs: (failures) => nextAttemptDelay(failures, SINK_RETRY),
    downAfterFailures: 5,
    // A tenant's own sink is a URL a tenant gave, like a webhook receiver's: the same guarded client.
    tenantSink: ({ name, tenantId, url }) => new HttpSink({ name, tenantId, url, http: webhookHttp }),
  };
}

/** One configured audit sink (docs/operations.md, "Sinks"). */
function auditSink(c: AuditSinkConfig, httpClient: (timeoutMs: number) => SafeHttpClient): AuditSink {
  const scope = { name: c.name, ...(c.tenantId ? { tenantId: c.tenantId } : {}) };
  switch (c.kind) {
    case 'file':
      return new FileSink({ ...scope, path: c.path, maxBytes: c.maxBytes, keep: c.keep });
    case 'syslog':
      return new SyslogSink({
        ...scope,
        host: c.host,
        port: c.port,
        facility: c.facility,
        appName: c.appName,
        ...(c.tls ? { tls: syslogTls(c.name, c.tls) } : {}),
      });
    case 'http':
      return new HttpSink({ ...scope, url: c.url, headers: c.headers, http: httpClient(c.timeoutMs) });
    case 'stdout':
      return new StdoutSink(scope);
  }
}

const parsesAsCertificate = (pem: string) => {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
};

/**
 * A syslog sink's TLS files, read and parsed once at start-up: one that cannot be read, or is not
 * PEM of its kind, stops it, named by its path (never its contents, which may be a private key).
 */
function syslogTls(sink: string, tls: SyslogTlsConfig): SyslogTlsOptions {
  const refuse = (what: string, why: string) =>
    new RegistryError('CONFIG', `audit sink ${sink}: ${what} ${why}`);
  const read = (field: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw refuse(
        `tls.${field} ${path}`,
        `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'an error'})`,
      );
    }
  };
  const serverName = tls.serverName === undefined ? {} : { serverName: tls.serverName };
  const ca = tls.caFile === undefined ? undefined : read('caFile', tls.caFile);
  // A secure context takes any text as CAs and trusts none of it: each certificate is parsed here.
  const certificates = ca?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (ca !== undefined && !(certificates.length > 0 && certificates.every(parsesAsCertificate))) {
    throw refuse(`tls.caFile ${tls.caFile}`, 'is not a list of PEM certificates');
  }
  const withCa = { ...(ca === undefined ? {} : { ca }), ...serverName };
  if (tls.certFile === undefined || tls.keyFile === undefined) return withCa;
  const [cert, key] = [read('certFile', tls.certFile), read('keyFile', tls.keyFile)];
  try {
    createSecureContext({ cert, key });
  } catch {
    throw refuse(
      `tls.certFile ${tls.certFile} and tls.keyFile ${tls.keyFile}`,
      'are not a PEM certificate and its private key',
    );
  }
  return { ...withCa, cert, key };
}

/**
 * The current provider is asked first, so a retired one that it would claim every key of is never
 * asked, and the keys it alone could open look current: a root rotation would move nothing, and
 * removing it later would break every reveal. Refused at start-up instead.
 */
function assertNotShadowed(current: RootKeyProvider, retired: RootKeyProvider): void {
  // KMS names no key id up front; a current aws-kms claims every aws-kms key anyway.
  const keyId = retired.keyId ?? '';
  if (!current.canUnwrap({ provider: retired.name, providerKeyId: keyId, ciphertext: new Uint8Array() }))
    return;
  throw new RegistryError(
    'CONFIG',
    retired.name === 'aws-kms'
      ? 'a previous aws-kms provider under a current aws-kms one is never used: KMS decrypts keys under any key it is allowed to, and a root rotation moves them to the configured key with ReEncrypt; remove CREDREG_PREVIOUS_KEY_PROVIDER'
      : `the previous root key is the current one (${keyId}); a root rotation needs another key, or another key name: keys of one name on two servers or tokens cannot be told apart`,
  );
}

async function readOnly(db: SqlDatabase): Promise<boolean> {
  const [row] = await db.transaction((c) =>
    c.query<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro"),
  );
  return row?.ro === 'on';
}

async function connectedAsSuperuser(db: SqlDatabase): Promise<boolean> {
  const [row] = await db.transaction((c) =>
    c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = session_user'),
  );
  return row?.rolsuper === true;
}

/**
 * The configured root key provider. Only the local one holds key material in this process. A
 * retired one never creates a key: one that is not there any more would unwrap nothing.
 */
function rootKeyProvider(
  c: KeyProviderConfig,
  { mayCreateRootKey = false, retired = false }: { mayCreateRootKey?: boolean; retired?: boolean },
  logger: Logger,
): RootKeyProvider {
  switch (c.kind) {
    case 'aws-kms':
      return new AwsKmsKeyProvider({ keyId: c.keyId, tenantKeys: c.tenantKeys });
    case 'vault-transit':
      return new VaultTransitKeyProvider({ addr: c.addr, token: c.token, key: c.key, mount: c.mount });
    case 'pkcs11':
      return Pkcs11KeyProvider.open({ ...c, createMissingKey: !retired });
    case 'local': {
      const key =
        c.rootKey.kind === 'base64'
          ? decodeRootKey(c.rootKey.value)
          : loadRootKeyFile(c.rootKey.path, { create: c.rootKey.create && mayCreateRootKey, logger });
      const provider = new LocalKeyProvider(key);
      key.fill(0);
      return provider;
    }
  }
}
