import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { clientConfigPath, DEFAULT_PROFILE, readClientProfiles } from './client-config-file.js';
import { RegistryError } from './core/errors.js';
import { isUuid } from './core/ids.js';
import { parse } from './core/validation.js';
import { checkUrl } from './events/url-policy.js';

/**
 * Where the data lives. The embedded default needs nothing; PostgreSQL is chosen by `DATABASE_URL`.
 */
export type StorageConfig =
  | { kind: 'pglite'; dataDir: string }
  | {
      kind: 'postgres';
      url: string;
      /** An owner's connection for `migrate`, when the runtime login may not create tables. (Default: `url`) */
      migrationUrl: string;
      /** (Default: 10) */
      poolMax: number;
      /** How long to wait for a new connection, in ms. (Default: 5000) */
      connectTimeoutMs: number;
      /**
       * `named` prepared statements (planned once per connection), or `unnamed` ones for a pooler
       * in transaction mode that does not keep prepared statements (PgBouncer before 1.21). (Default: `named`)
       */
      statements: 'named' | 'unnamed';
    };

export type RootKeyConfig =
  | { kind: 'base64'; value: string }
  | { kind: 'file'; path: string; create: boolean };

/** Which root key provider wraps vault keys. (Default: `local`) */
export type KeyProviderConfig =
  | { kind: 'local'; rootKey: RootKeyConfig }
  | { kind: 'aws-kms'; keyId: string; tenantKeys: Record<string, string> }
  | { kind: 'vault-transit'; addr: string; token: string; key: string; mount: string }
  | { kind: 'pkcs11'; module: string; tokenLabel: string; pin: string; keyLabel: string };

export interface Config {
  storage: StorageConfig;
  keyProvider: KeyProviderConfig;
  /**
   * Retired root keys, of any provider, still accepted for unwrapping until `credreg keys
   * rotate-root` has moved every vault key to the current one. (Default: none)
   */
  previousKeyProviders?: readonly KeyProviderConfig[];
  /** Database roles are `<prefix>_app` and `<prefix>_platform`. (Default: `credreg`) */
  dbRolePrefix: string;
  /** (Default: 127.0.0.1:8200) */
  listen: { host: string; port: number };
  /**
   * Unwrapped vault keys held in memory: for at most `ttlMs` (Default: 300000), at most
   * `maxEntries` in all (Default: 10000) and `maxEntriesPerTenant` per tenant (Default: 1000), so
   * one busy tenant cannot evict every other tenant's keys.
   */
  keyCache: { ttlMs: number; maxEntries: number; maxEntriesPerTenant: number };
  /**
   * Every root key provider call gets a deadline of `timeoutMs` (Default: 5000), retries included;
   * after `breakAfter` outages in a row (Default: 5) calls fail at once for `openMs` (Default:
   * 10000), then one trial call decides whether the provider is back.
   */
  keyProviderGuard: { timeoutMs: number; breakAfter: number; openMs: number };
  maintenance: {
    /** How often `credreg serve` runs upkeep (key rotation, re-wrap, purge), in ms. (Default: 60000; 0 disables) */
    intervalMs: number;
    /** Rotate a vault key once its current version is this many days old. (Default: 90; 0 disables) */
    rotateVaultKeysAfterDays: number;
  };
  rotation: {
    /**
     * How often `credreg serve` runs the credential rotations that are due, and sends the expiry
     * alerts that are due, in ms; each tick takes at most a batch of each, across every instance
     * sharing the database. (Default: 10000; 0 disables both: rotations then run only on demand)
     */
    intervalMs: number;
  };
  audit: {
    /**
     * How often `credreg serve` seals the tenants' new access-log rows into their Merkle logs, in
     * ms: the bound on how far the tree trails the log (docs/audit.md). (Default: 1000; 0 disables
     * the sealer, and the tree then catches up only when a checkpoint is asked for)
     */
    sealIntervalMs: number;
    /** A tenant's checkpoint is signed (and sent as `audit.checkpoint`) at most this often while its log grows, in ms. (Default: 60000) */
    checkpointIntervalMs: number;
    /**
     * How often `credreg serve` streams sealed access-log rows to the audit sinks, in ms.
     * (Default: 1000; 0 disables delivery, and rows wait in the database)
     */
    sinkIntervalMs?: number;
    /** Where sealed access-log rows are streamed to (`CREDREG_AUDIT_SINKS`). (Default: none) */
    sinks?: readonly AuditSinkConfig[];
  };
  webhooks: {
    /**
     * How often `credreg serve` delivers due webhook messages, in ms; each tick claims at most a
     * batch, across every instance sharing the database. (Default: 1000; 0 disables delivery, and
     * events then wait in the outbox)
     */
    intervalMs: number;
    /**
     * Let webhook receivers be on loopback, private, link-local or reserved addresses, and use
     * plain http. For development and closed networks only: otherwise any tenant admin could make
     * the server call inside its own network (SSRF). (Default: false)
     */
    allowPrivateUrls: boolean;
  };
  http: {
    /** Proxies whose X-Forwarded-For is believed, as Fastify's `trustProxy`: addresses or CIDRs. (Default: none) */
    trustedProxies: string[];
    /** Largest request body in bytes. (Default: 262144) */
    bodyLimit: number;
    /** Requests per minute per token (per client IP without one). (Default: 1200) */
    rateLimitPerMinute: number;
    /** How long a verified token is trusted before it is looked up again, in ms. (Default: 5000) */
    tokenCacheTtlMs: number;
    /**
     * The built web console that `/ui` serves (`npm run build` writes it), or null to serve none.
     * (Default: `dist/ui` of this package; `CREDREG_CONSOLE_DIR=off` for none)
     */
    consoleDir: string | null;
  };
  /**
   * Who may read the Prometheus metrics. With neither setting, nobody: `/metrics` on the main
   * listener answers 404 with a problem saying how to enable it, since request counts by route,
   * denial counts and key-cache figures tell an outsider how the service is used and attacked.
   */
  metrics: {
    /**
     * A bearer token (at least 32 characters, RFC 6750 token characters) that `/metrics` on the
     * main listener then requires; API tokens never grant it. A secret: there is no default.
     * (Default: none, and `/metrics` is not served on the main listener)
     */
    token: string | undefined;
    /**
     * A second listener serving only `/metrics`, without a token: bind it to loopback or a private
     * network, as for a Prometheus exporter. (Default: none)
     */
    listen: { host: string; port: number } | undefined;
  };
  /** (Default: info) */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * One audit sink, as `CREDREG_AUDIT_SINKS` (a JSON array) gives it (docs/operations.md, "Sinks").
 * `name` keys its cursors: renaming a sink starts it over from the first row.
 */
export type AuditSinkConfig = {
  name: string;
  /** Only this tenant's rows. (Default: every tenant's) */
  tenantId?: string;
} & (
  | {
      kind: 'file';
      /** JSON Lines, appended and flushed before a batch counts as delivered. */
      path: string;
      /** Rotated (to `path.1`, `path.2`, …) before a batch would take it past this size. (Default: 104857600) */
      maxBytes: number;
      /** Rotated files kept. (Default: 5) */
      keep: number;
    }
  | {
      kind: 'syslog';
      /** RFC 5424 over TCP, octet-counted (RFC 6587). */
      host: string;
      port: number;
      /** (Default: 13, log audit) */
      facility: number;
      /** (Default: `credreg`) */
      appName: string;
      /** Over TLS (RFC 5425), the collector's certificate always checked. (Default: plain TCP) */
      tls?: SyslogTlsConfig;
    }
  | {
      kind: 'http';
      /** Batches are POSTed as `{ "entries": [...] }`, through the SSRF-guarded client and the webhooks' URL policy. */
      url: string;
      /** Sent with every batch (e.g. `authorization` for a collector); never logged. (Default: none) */
      headers: Record<string, string>;
      /** (Default: 15000) */
      timeoutMs: number;
    }
  | { kind: 'stdout' }
);

/** A syslog sink's TLS: PEM files read at start-up; the system's CAs when no `caFile`. */
export interface SyslogTlsConfig {
  caFile?: string;
  /** A client certificate and its key, both or neither, for a collector that asks for one. */
  certFile?: string;
  keyFile?: string;
  /** The name the certificate must hold. (Default: `host`) */
  serverName?: string;
}

const syslogTls = z
  .strictObject({
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    // SNI carries a name; an address is checked as `host` (RFC 6066 has no SNI for one).
    serverName: z
      .string()
      .min(1)
      .max(253)
      .refine((n) => isIP(n) === 0, 'must be a DNS name, not an address')
      .optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'certFile and keyFile go together',
    path: ['keyFile'],
  });

const sinkCommon = {
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,62}$/,
      'must be 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit',
    ),
  tenantId: z.string().refine(isUuid, 'must be a lower-case UUID').optional(),
};
const auditSinksSchema = z.array(
  z.discriminatedUnion('kind', [
    z.strictObject({
      ...sinkCommon,
      kind: z.literal('file'),
      path: z.string().min(1),
      maxBytes: z
        .number()
        .int()
        .min(4096)
        .max(2 ** 50)
        .default(100 * 1024 * 1024),
      keep: z.number().int().min(1).max(1000).default(5),
    }),
    z.strictObject({
      ...sinkCommon,
      kind: z.literal('syslog'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535),
      facility: z.number().int().min(0).max(23).default(13),
      appName: z
        .string()
        .regex(/^[!-~]{1,48}$/, 'must be 1 to 48 printable ASCII characters')
        .default('credreg'),
      tls: syslogTls.optional(),
    }),
    z.strictObject({
      ...sinkCommon,
      kind: z.literal('http'),
      url: z.string().min(1),
      headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), z.string()).default({}),
      timeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    }),
    z.strictObject({ ...sinkCommon, kind: z.literal('stdout') }),
  ]),
);

/**
 * `CREDREG_AUDIT_SINKS`: a JSON array of sinks, each checked strictly (an unknown field is a
 * typo, refused), with unique names. An http sink's URL passes the webhooks' URL policy.
 */
export function parseAuditSinks(json: string | undefined, allowPrivateUrls: boolean): AuditSinkConfig[] {
  if (!json?.trim()) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new RegistryError(
      'CONFIG',
      'CREDREG_AUDIT_SINKS must be a JSON array of sinks, e.g. [{"name":"siem","kind":"stdout"}]',
    );
  }
  let sinks: AuditSinkConfig[];
  try {
    sinks = parse(auditSinksSchema, raw, 'CREDREG_AUDIT_SINKS') as AuditSinkConfig[];
  } catch (err) {
    // Field paths and rules only: zod's messages do not quote values, and headers may hold a secret.
    throw new RegistryError('CONFIG', (err as Error).message.replace(/^invalid input: /, ''));
  }
  const seen = new Set<string>();
  sinks.forEach((sink, i) => {
    if (seen.has(sink.name)) {
      throw new RegistryError('CONFIG', `CREDREG_AUDIT_SINKS.${i}.name: another sink is named ${sink.name}`);
    }
    seen.add(sink.name);
    if (sink.kind === 'http') {
      const refused = checkUrl(sink.url, { allowPrivate: allowPrivateUrls });
      if (refused) throw new RegistryError('CONFIG', `CREDREG_AUDIT_SINKS.${i}.url ${refused}`);
    }
  });
  return sinks;
}

/** The settings of one root key provider; a retired one takes them again with `CREDREG_PREVIOUS_`. */
const keyProviderEnv = {
  CREDREG_ROOT_KEY: z.string().min(1).optional(),
  CREDREG_ROOT_KEY_FILE: z.string().min(1).optional(),
  CREDREG_KEY_PROVIDER: z.enum(['local', 'aws-kms', 'vault-transit', 'pkcs11']).default('local'),
  CREDREG_PKCS11_MODULE: z.string().min(1).optional(),
  CREDREG_PKCS11_TOKEN_LABEL: z.string().min(1).optional(),
  CREDREG_PKCS11_PIN: z.string().min(1).optional(),
  CREDREG_PKCS11_KEY_LABEL: z.string().min(1).default('credreg-root'),
  CREDREG_AWS_KMS_KEY_ID: z.string().min(1).optional(),
  CREDREG_AWS_KMS_TENANT_KEYS: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s) return {};
      try {
        return z.record(z.string(), z.string().min(1)).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of tenant id to KMS key id' });
        return z.NEVER;
      }
    }),
  CREDREG_VAULT_ADDR: z.url({ protocol: /^https?$/ }).optional(),
  CREDREG_VAULT_TOKEN: z.string().min(1).optional(),
  CREDREG_VAULT_TRANSIT_KEY: z.string().min(1).optional(),
  CREDREG_VAULT_TRANSIT_MOUNT: z.string().min(1).default('transit'),
};

const hostPort = z
  .string()
  .regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')
  .refine((s) => Number(s.split(':')[1]) <= 65_535, 'must have a port of at most 65535');
/** The shortest scrape token accepted. */
export const METRICS_TOKEN_MIN = 32;

const env = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  CREDREG_MIGRATION_DATABASE_URL: z.string().min(1).optional(),
  CREDREG_DB_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(10),
  CREDREG_DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  CREDREG_DB_STATEMENTS: z.enum(['named', 'unnamed']).default('named'),
  CREDREG_DB_ROLE_PREFIX: z.string().default('credreg'),
  CREDREG_DATA_DIR: z.string().min(1).default('./data'),
  ...keyProviderEnv,
  CREDREG_PREVIOUS_ROOT_KEYS: z.string().default(''),
  CREDREG_LISTEN: hostPort.default('127.0.0.1:8200'),
  // Characters a bearer token may have (RFC 6750 b64token), so it fits an Authorization header
  // as it is; `openssl rand -base64 32` gives one. Messages never quote the value.
  CREDREG_METRICS_TOKEN: z
    .string()
    .min(METRICS_TOKEN_MIN, `must be at least ${METRICS_TOKEN_MIN} characters (openssl rand -base64 32)`)
    .max(1024, 'must be at most 1024 characters')
    .regex(/^[A-Za-z0-9\-._~+/]+=*$/, 'may hold only letters, digits and - . _ ~ + / (then = padding)')
    .optional(),
  CREDREG_METRICS_LISTEN: hostPort.optional(),
  // At least a second: lru-cache reads a TTL of 0 as "never expires".
  CREDREG_KEY_CACHE_TTL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
  CREDREG_KEY_CACHE_MAX: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  CREDREG_KEY_CACHE_MAX_PER_TENANT: z.coerce.number().int().min(1).max(10_000_000).default(1000),
  CREDREG_KEY_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  CREDREG_KEY_PROVIDER_BREAK_AFTER: z.coerce.number().int().min(1).max(1000).default(5),
  CREDREG_KEY_PROVIDER_OPEN_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  CREDREG_TRUSTED_PROXIES: z.string().default(''),
  CREDREG_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(256 * 1024),
  CREDREG_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(1200),
  CREDREG_TOKEN_CACHE_TTL_MS: z.coerce.number().int().min(1000).max(300_000).default(5000),
  CREDREG_CONSOLE_DIR: z.string().min(1).optional(),
  CREDREG_MAINTENANCE_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  CREDREG_VAULT_KEY_ROTATION_DAYS: z.coerce.number().int().min(0).max(3650).default(90),
  CREDREG_ROTATION_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  CREDREG_WEBHOOK_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
  CREDREG_AUDIT_SEAL_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
  CREDREG_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
  CREDREG_AUDIT_SINK_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
  CREDREG_AUDIT_SINKS: z.string().optional(),
  CREDREG_ALLOW_PRIVATE_URLS: z.enum(['true', 'false']).default('false'),
  CREDREG_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/**
 * Reads the environment once, at start-up. Nothing else reads `process.env`. There is no default
 * for anything secret: on PostgreSQL the root key must be given.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const e = parse(env, source);
  const storage = storageFrom(e);
  const keyProvider = keyProviderFrom(e, storage);
  const previousKeyProviders: KeyProviderConfig[] = e.CREDREG_PREVIOUS_ROOT_KEYS.split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((value) => ({ kind: 'local', rootKey: { kind: 'base64', value } }));
  if (source.CREDREG_PREVIOUS_KEY_PROVIDER) previousKeyProviders.push(previousKeyProviderFrom(source));
  else {
    // Settings for a retired provider that is not named would be silently ignored.
    const stray = Object.keys(source).find(
      (name) => name.startsWith(PREVIOUS) && name !== 'CREDREG_PREVIOUS_ROOT_KEYS' && source[name],
    );
    if (stray) {
      throw new RegistryError('CONFIG', `${stray} is set but CREDREG_PREVIOUS_KEY_PROVIDER is not`);
    }
  }
  const listen = hostPortOf(e.CREDREG_LISTEN);
  const metricsListen = e.CREDREG_METRICS_LISTEN ? hostPortOf(e.CREDREG_METRICS_LISTEN) : undefined;
  if (metricsListen && metricsListen.port !== 0 && e.CREDREG_METRICS_LISTEN === e.CREDREG_LISTEN) {
    throw new RegistryError(
      'CONFIG',
      'CREDREG_METRICS_LISTEN must be another address than CREDREG_LISTEN (to scrape the main listener, set CREDREG_METRICS_TOKEN)',
    );
  }
  return deepFreeze({
    storage,
    keyProvider,
    previousKeyProviders,
    dbRolePrefix: e.CREDREG_DB_ROLE_PREFIX,
    listen,
    keyCache: {
      ttlMs: e.CREDREG_KEY_CACHE_TTL_MS,
      maxEntries: e.CREDREG_KEY_CACHE_MAX,
      maxEntriesPerTenant: e.CREDREG_KEY_CACHE_MAX_PER_TENANT,
    },
    keyProviderGuard: {
      timeoutMs: e.CREDREG_KEY_PROVIDER_TIMEOUT_MS,
      breakAfter: e.CREDREG_KEY_PROVIDER_BREAK_AFTER,
      openMs: e.CREDREG_KEY_PROVIDER_OPEN_MS,
    },
    maintenance: {
      intervalMs: e.CREDREG_MAINTENANCE_INTERVAL_MS,
      rotateVaultKeysAfterDays: e.CREDREG_VAULT_KEY_ROTATION_DAYS,
    },
    rotation: { intervalMs: e.CREDREG_ROTATION_INTERVAL_MS },
    audit: {
      sealIntervalMs: e.CREDREG_AUDIT_SEAL_INTERVAL_MS,
      checkpointIntervalMs: e.CREDREG_AUDIT_CHECKPOINT_INTERVAL_MS,
      sinkIntervalMs: e.CREDREG_AUDIT_SINK_INTERVAL_MS,
      sinks: parseAuditSinks(e.CREDREG_AUDIT_SINKS, e.CREDREG_ALLOW_PRIVATE_URLS === 'true'),
    },
    webhooks: {
      intervalMs: e.CREDREG_WEBHOOK_INTERVAL_MS,
      allowPrivateUrls: e.CREDREG_ALLOW_PRIVATE_URLS === 'true',
    },
    http: {
      trustedProxies: e.CREDREG_TRUSTED_PROXIES.split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      bodyLimit: e.CREDREG_BODY_LIMIT,
      rateLimitPerMinute: e.CREDREG_RATE_LIMIT,
      tokenCacheTtlMs: e.CREDREG_TOKEN_CACHE_TTL_MS,
      consoleDir:
        e.CREDREG_CONSOLE_DIR === 'off'
          ? null
          : resolve(e.CREDREG_CONSOLE_DIR ?? fileURLToPath(new URL('../dist/ui/', import.meta.url))),
    },
    metrics: { token: e.CREDREG_METRICS_TOKEN, listen: metricsListen },
    logLevel: e.CREDREG_LOG_LEVEL,
  });
}

function hostPortOf(value: string): { host: string; port: number } {
  const [host, port] = value.split(':') as [string, string];
  return { host, port: Number(port) };
}

/** What `credreg migrate` needs: where the schema lives, never a key. */
export type MigrationConfig = Pick<Config, 'storage' | 'dbRolePrefix' | 'logLevel'>;

/**
 * The settings `credreg migrate` reads. Migrating touches no secret, so unlike `loadConfig` it
 * asks for no root key; the rest of the environment is checked the same way.
 */
export function loadMigrationConfig(source: NodeJS.ProcessEnv = process.env): Readonly<MigrationConfig> {
  const e = parse(env, source);
  return deepFreeze({
    storage: storageFrom(e),
    dbRolePrefix: e.CREDREG_DB_ROLE_PREFIX,
    logLevel: e.CREDREG_LOG_LEVEL,
  });
}

function storageFrom(e: z.output<typeof env>): StorageConfig {
  return e.DATABASE_URL
    ? {
        kind: 'postgres',
        url: e.DATABASE_URL,
        migrationUrl: e.CREDREG_MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
        poolMax: e.CREDREG_DB_POOL_MAX,
        connectTimeoutMs: e.CREDREG_DB_CONNECT_TIMEOUT_MS,
        statements: e.CREDREG_DB_STATEMENTS,
      }
    : { kind: 'pglite', dataDir: resolve(e.CREDREG_DATA_DIR) };
}

export const DEFAULT_CLIENT_ADDR = 'http://127.0.0.1:8200';

const PREVIOUS = 'CREDREG_PREVIOUS_';

/**
 * The retired provider a root rotation moves away from, configured like the current one with
 * every name prefixed: `CREDREG_PREVIOUS_KEY_PROVIDER=aws-kms`, `CREDREG_PREVIOUS_AWS_KMS_KEY_ID`, …
 */
function previousKeyProviderFrom(source: NodeJS.ProcessEnv): KeyProviderConfig {
  const prefixed = z.object(
    Object.fromEntries(
      Object.entries(keyProviderEnv).map(([name, schema]) => [name.replace('CREDREG_', PREVIOUS), schema]),
    ),
  );
  // A mistyped name would otherwise leave the retired provider without the setting, silently.
  const unknown = Object.keys(source).find(
    (name) => name.startsWith(PREVIOUS) && name !== 'CREDREG_PREVIOUS_ROOT_KEYS' && !(name in prefixed.shape),
  );
  if (unknown) throw new RegistryError('CONFIG', `${unknown} is not a setting of a root key provider`);
  const e = Object.fromEntries(
    Object.entries(parse(prefixed, source)).map(([name, value]) => [
      name.replace(PREVIOUS, 'CREDREG_'),
      value,
    ]),
  ) as z.output<z.ZodObject<typeof keyProviderEnv>>;
  return keyProviderFrom(e, null, PREVIOUS);
}

/** `storage` is null for a retired provider: it never gets the embedded default's key file. */
function keyProviderFrom(
  e: z.output<z.ZodObject<typeof keyProviderEnv>>,
  storage: StorageConfig | null,
  prefix = 'CREDREG_',
): KeyProviderConfig {
  const need = (value: string | undefined, name: string) => {
    if (value) return value;
    throw new RegistryError(
      'CONFIG',
      `${prefix}KEY_PROVIDER=${e.CREDREG_KEY_PROVIDER} needs ${name.replace('CREDREG_', prefix)}`,
    );
  };
  switch (e.CREDREG_KEY_PROVIDER) {
    case 'aws-kms':
      return {
        kind: 'aws-kms',
        keyId: need(e.CREDREG_AWS_KMS_KEY_ID, 'CREDREG_AWS_KMS_KEY_ID'),
        tenantKeys: e.CREDREG_AWS_KMS_TENANT_KEYS,
      };
    case 'vault-transit':
      return {
        kind: 'vault-transit',
        addr: need(e.CREDREG_VAULT_ADDR, 'CREDREG_VAULT_ADDR'),
        token: need(e.CREDREG_VAULT_TOKEN, 'CREDREG_VAULT_TOKEN'),
        key: need(e.CREDREG_VAULT_TRANSIT_KEY, 'CREDREG_VAULT_TRANSIT_KEY'),
        mount: e.CREDREG_VAULT_TRANSIT_MOUNT,
      };
    case 'pkcs11':
      return {
        kind: 'pkcs11',
        module: need(e.CREDREG_PKCS11_MODULE, 'CREDREG_PKCS11_MODULE'),
        tokenLabel: need(e.CREDREG_PKCS11_TOKEN_LABEL, 'CREDREG_PKCS11_TOKEN_LABEL'),
        pin: need(e.CREDREG_PKCS11_PIN, 'CREDREG_PKCS11_PIN'),
        keyLabel: e.CREDREG_PKCS11_KEY_LABEL,
      };
    case 'local': {
      if (e.CREDREG_ROOT_KEY)
        return { kind: 'local', rootKey: { kind: 'base64', value: e.CREDREG_ROOT_KEY } };
      if (e.CREDREG_ROOT_KEY_FILE) {
        return {
          kind: 'local',
          rootKey: { kind: 'file', path: resolve(e.CREDREG_ROOT_KEY_FILE), create: false },
        };
      }
      if (storage?.kind === 'pglite') {
        return {
          kind: 'local',
          rootKey: { kind: 'file', path: resolve(storage.dataDir, 'root.key'), create: true },
        };
      }
      if (!storage) {
        throw new RegistryError(
          'CONFIG',
          `${prefix}KEY_PROVIDER=local needs ${prefix}ROOT_KEY or ${prefix}ROOT_KEY_FILE`,
        );
      }
      throw new RegistryError(
        'CONFIG',
        'DATABASE_URL is set but no root key is: set CREDREG_ROOT_KEY (base64 of 32 bytes) or CREDREG_ROOT_KEY_FILE, or choose a CREDREG_KEY_PROVIDER',
      );
    }
  }
}

/** Where the remote CLI commands find the server: flags, then `CREDREG_ADDR`, `CREDREG_TOKEN`, then a profile. */
export interface ClientConfig {
  /** (Default: http://127.0.0.1:8200) */
  addr: string;
  token: string | undefined;
  /** `--profile`, else `CREDREG_PROFILE`. (Default: `default`) */
  profile: string;
  /** The file `credreg login` writes profiles to; undefined without `$XDG_CONFIG_HOME` or `$HOME`. */
  configFile: string | undefined;
}

/** What the command line says, which wins over the environment and the config file. */
export interface ClientFlags {
  addr?: string;
  token?: string;
  profile?: string;
}

const serverAddr = z.url({ protocol: /^https?$/ });

/** `CREDREG_ADDR`: an http(s) URL, or empty for none. */
const envAddr = serverAddr.optional().or(z.literal('').transform(() => undefined));

/** Refuses an `--addr` that is not an http(s) URL (CONFIG, naming the flag). */
function checkAddrFlag(addr: string | undefined): void {
  if (addr !== undefined && !serverAddr.safeParse(addr).success) {
    throw new RegistryError(
      'CONFIG',
      `--addr must be an http(s) URL such as ${DEFAULT_CLIENT_ADDR}, not "${addr}"`,
    );
  }
}

/**
 * The server and token of a remote command: each from its flag, else its environment variable
 * (`CREDREG_ADDR`, `CREDREG_TOKEN`), else the profile `credreg login` stored (`--profile`, else
 * `CREDREG_PROFILE`, else `default`). A stored token goes only to the address it was stored with:
 * with `--addr` or `CREDREG_ADDR` pointing elsewhere, it is not sent. The config file is read
 * only when the flags and the environment leave something to fill (see client-config-file.ts).
 *
 * @example
 * loadClientConfig({ CREDREG_ADDR: 'https://registry.internal', CREDREG_TOKEN: 'crt.…' })
 * // { addr: 'https://registry.internal', token: 'crt.…', profile: 'default', configFile: undefined }
 */
export function loadClientConfig(
  source: NodeJS.ProcessEnv = process.env,
  flags: ClientFlags = {},
): Readonly<ClientConfig> {
  const e = parse(
    z.object({
      CREDREG_ADDR: envAddr,
      CREDREG_TOKEN: z.string().optional(),
      CREDREG_PROFILE: z.string().optional(),
    }),
    source,
  );
  checkAddrFlag(flags.addr);
  const named = flags.profile || e.CREDREG_PROFILE || undefined;
  const profile = named ?? DEFAULT_PROFILE;
  const configFile = clientConfigPath(source);
  let addr = flags.addr ?? e.CREDREG_ADDR;
  let token = flags.token || e.CREDREG_TOKEN || undefined;
  if ((addr === undefined || token === undefined) && configFile) {
    const stored = readClientProfiles(configFile).profiles[profile];
    if (!stored && named) {
      throw new RegistryError(
        'CONFIG',
        `no profile "${profile}" in ${configFile}: run \`credreg login --profile ${profile}\``,
      );
    }
    if (stored) {
      addr ??= stored.addr;
      if (token === undefined && sameServer(addr, stored.addr)) token = stored.token;
    }
  }
  return Object.freeze({ addr: addr ?? DEFAULT_CLIENT_ADDR, token, profile, configFile });
}

/** Where `credreg login` checks a token and which profile it stores it under. */
export interface LoginConfig {
  /** `--addr`, else `CREDREG_ADDR`. (Default: http://127.0.0.1:8200) */
  addr: string;
  /** `--profile`, else `CREDREG_PROFILE`. (Default: `default`) */
  profile: string;
  configFile: string;
}

/** What `credreg login` and `logout` need: like {@link loadClientConfig}, but no file is read. */
export function loadLoginConfig(
  source: NodeJS.ProcessEnv = process.env,
  flags: Omit<ClientFlags, 'token'> = {},
): Readonly<LoginConfig> {
  const e = parse(
    z.object({
      CREDREG_ADDR: envAddr,
      CREDREG_PROFILE: z.string().optional(),
    }),
    source,
  );
  checkAddrFlag(flags.addr);
  const configFile = clientConfigPath(source);
  if (!configFile) throw new RegistryError('CONFIG', 'set HOME or XDG_CONFIG_HOME: the profiles live there');
  return Object.freeze({
    addr: flags.addr ?? e.CREDREG_ADDR ?? DEFAULT_CLIENT_ADDR,
    profile: flags.profile || e.CREDREG_PROFILE || DEFAULT_PROFILE,
    configFile,
  });
}

/** Whether two addresses name the same server, trailing slashes and letter case aside. */
function sameServer(a: string, b: string): boolean {
  const norm = (addr: string) => {
    try {
      return new URL(addr).href.replace(/\/+$/, '');
    } catch {
      return addr;
    }
  };
  return norm(a) === norm(b);
}

/** What `credreg webhook listen` reads from the environment. */
export interface WebhookListenConfig {
  /**
   * `CREDREG_WEBHOOK_SECRET`: the `whsec_…` secret to verify messages with when `--secret` is not
   * given, so that it stays out of shell history and process lists. (Default: none)
   */
  secret: string | undefined;
}

export function loadWebhookListenConfig(
  source: NodeJS.ProcessEnv = process.env,
): Readonly<WebhookListenConfig> {
  const e = parse(z.object({ CREDREG_WEBHOOK_SECRET: z.string().optional() }), source);
  return Object.freeze({ secret: e.CREDREG_WEBHOOK_SECRET || undefined });
}

function deepFreeze<T extends object>(o: T): Readonly<T> {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}
