import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadMigrationConfig } from '../src/config.js';

describe('configuration', () => {
  it('defaults to the embedded store in ./data with a root key file beside it', () => {
    const c = loadConfig({});
    expect(c.storage).toMatchObject({ kind: 'pglite' });
    expect(c.storage.kind === 'pglite' && c.storage.dataDir.endsWith('/data')).toBe(true);
    expect(c.keyProvider).toMatchObject({ kind: 'local', rootKey: { kind: 'file', create: true } });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8200 });
    expect(c.dbRolePrefix).toBe('credreg');
    expect(Object.isFrozen(c) && Object.isFrozen(c.storage)).toBe(true);
  });

  it("serves the package's built console by default, another build by CREDREG_CONSOLE_DIR, or none", () => {
    expect(loadConfig({}).http.consoleDir).toBe(
      resolve(fileURLToPath(new URL('../dist/ui', import.meta.url))),
    );
    expect(loadConfig({ CREDREG_CONSOLE_DIR: 'build/console' }).http.consoleDir).toBe(
      resolve('build/console'),
    );
    expect(loadConfig({ CREDREG_CONSOLE_DIR: 'off' }).http.consoleDir).toBeNull();
    expect(() => loadConfig({ CREDREG_CONSOLE_DIR: '' })).toThrow(/CREDREG_CONSOLE_DIR/);
  });

  it('selects PostgreSQL by DATABASE_URL and then requires a root key (no default for secrets)', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@h/db' })).toThrow(/no root key/);
    const key = randomBytes(32).toString('base64');
    const c = loadConfig({
      DATABASE_URL: 'postgres://x@h/db',
      CREDREG_ROOT_KEY: key,
      CREDREG_DB_POOL_MAX: '32',
    });
    expect(c.storage).toEqual({
      kind: 'postgres',
      url: 'postgres://x@h/db',
      migrationUrl: 'postgres://x@h/db',
      poolMax: 32,
      connectTimeoutMs: 5000,
      statements: 'named',
    });
    expect(
      loadConfig({
        DATABASE_URL: 'postgres://x@h/db',
        CREDREG_ROOT_KEY: key,
        CREDREG_DB_STATEMENTS: 'unnamed',
      }).storage,
    ).toMatchObject({ statements: 'unnamed' });
    expect(() =>
      loadConfig({
        DATABASE_URL: 'postgres://x@h/db',
        CREDREG_ROOT_KEY: key,
        CREDREG_DB_STATEMENTS: 'simple',
      }),
    ).toThrow(/CREDREG_DB_STATEMENTS/);
    const m = loadConfig({
      DATABASE_URL: 'postgres://app@h/db',
      CREDREG_MIGRATION_DATABASE_URL: 'postgres://owner@h/db',
      CREDREG_ROOT_KEY_FILE: '/k',
    });
    expect(m.storage).toMatchObject({ migrationUrl: 'postgres://owner@h/db' });
    expect(m.keyProvider).toEqual({ kind: 'local', rootKey: { kind: 'file', path: '/k', create: false } });
  });

  it('the migration settings need no root key, and are checked like the rest', () => {
    expect(loadMigrationConfig({ DATABASE_URL: 'postgres://x@h/db' }).storage).toMatchObject({
      kind: 'postgres',
      migrationUrl: 'postgres://x@h/db',
    });
    expect(() =>
      loadMigrationConfig({ DATABASE_URL: 'postgres://x@h/db', CREDREG_DB_POOL_MAX: '0' }),
    ).toThrow(/CREDREG_DB_POOL_MAX/);
  });

  it('selects a KMS or Vault Transit provider, each with its required settings', () => {
    const url = { DATABASE_URL: 'postgres://x@h/db' };
    expect(() => loadConfig({ ...url, CREDREG_KEY_PROVIDER: 'aws-kms' })).toThrow(
      /needs CREDREG_AWS_KMS_KEY_ID/,
    );
    expect(
      loadConfig({ ...url, CREDREG_KEY_PROVIDER: 'aws-kms', CREDREG_AWS_KMS_KEY_ID: 'alias/credreg' })
        .keyProvider,
    ).toEqual({
      kind: 'aws-kms',
      keyId: 'alias/credreg',
      tenantKeys: {},
    });
    expect(() =>
      loadConfig({
        ...url,
        CREDREG_KEY_PROVIDER: 'aws-kms',
        CREDREG_AWS_KMS_KEY_ID: 'k',
        CREDREG_AWS_KMS_TENANT_KEYS: '[1]',
      }),
    ).toThrow(/CREDREG_AWS_KMS_TENANT_KEYS/);
    expect(() =>
      loadConfig({ ...url, CREDREG_KEY_PROVIDER: 'vault-transit', CREDREG_VAULT_ADDR: 'http://v:8200' }),
    ).toThrow(/needs CREDREG_VAULT_TOKEN/);
    const v = loadConfig({
      ...url,
      CREDREG_KEY_PROVIDER: 'vault-transit',
      CREDREG_VAULT_ADDR: 'http://v:8200',
      CREDREG_VAULT_TOKEN: 't',
      CREDREG_VAULT_TRANSIT_KEY: 'credreg',
    });
    expect(v.keyProvider).toEqual({
      kind: 'vault-transit',
      addr: 'http://v:8200',
      token: 't',
      key: 'credreg',
      mount: 'transit',
    });
  });

  it('selects a PKCS#11 HSM with module, token and PIN', () => {
    const base = { DATABASE_URL: 'postgres://x@h/db', CREDREG_KEY_PROVIDER: 'pkcs11' };
    expect(() => loadConfig({ ...base, CREDREG_PKCS11_MODULE: '/lib/p11.so' })).toThrow(
      /needs CREDREG_PKCS11_TOKEN_LABEL/,
    );
    const c = loadConfig({
      ...base,
      CREDREG_PKCS11_MODULE: '/lib/p11.so',
      CREDREG_PKCS11_TOKEN_LABEL: 'prod',
      CREDREG_PKCS11_PIN: '1234',
    });
    expect(c.keyProvider).toEqual({
      kind: 'pkcs11',
      module: '/lib/p11.so',
      tokenLabel: 'prod',
      pin: '1234',
      keyLabel: 'credreg-root',
    });
  });

  it('schedules upkeep: every minute, vault keys rotated after 90 days, both adjustable or off', () => {
    expect(loadConfig({}).maintenance).toEqual({ intervalMs: 60_000, rotateVaultKeysAfterDays: 90 });
    expect(
      loadConfig({ CREDREG_MAINTENANCE_INTERVAL_MS: '0', CREDREG_VAULT_KEY_ROTATION_DAYS: '30' }).maintenance,
    ).toEqual({ intervalMs: 0, rotateVaultKeysAfterDays: 30 });
    expect(() => loadConfig({ CREDREG_VAULT_KEY_ROTATION_DAYS: '-1' })).toThrow(
      /CREDREG_VAULT_KEY_ROTATION_DAYS/,
    );
  });

  it('reads retired root keys for a root rotation', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    expect(loadConfig({ CREDREG_PREVIOUS_ROOT_KEYS: ` ${a}, ${b} ` }).previousKeyProviders).toEqual([
      { kind: 'local', rootKey: { kind: 'base64', value: a } },
      { kind: 'local', rootKey: { kind: 'base64', value: b } },
    ]);
    expect(loadConfig({}).previousKeyProviders).toEqual([]);
  });

  it('reads a retired provider of any kind from CREDREG_PREVIOUS_* settings', () => {
    expect(
      loadConfig({
        CREDREG_PREVIOUS_KEY_PROVIDER: 'vault-transit',
        CREDREG_PREVIOUS_VAULT_ADDR: 'https://vault.internal:8200',
        CREDREG_PREVIOUS_VAULT_TOKEN: 'hvs.old',
        CREDREG_PREVIOUS_VAULT_TRANSIT_KEY: 'credreg',
        // The current provider's settings are not borrowed:
        CREDREG_VAULT_TOKEN: 'hvs.current',
      }).previousKeyProviders,
    ).toEqual([
      {
        kind: 'vault-transit',
        addr: 'https://vault.internal:8200',
        token: 'hvs.old',
        key: 'credreg',
        mount: 'transit',
      },
    ]);
    const kms = loadConfig({
      CREDREG_KEY_PROVIDER: 'pkcs11',
      CREDREG_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      CREDREG_PKCS11_TOKEN_LABEL: 'credreg',
      CREDREG_PKCS11_PIN: '1234',
      CREDREG_PREVIOUS_KEY_PROVIDER: 'aws-kms',
      CREDREG_PREVIOUS_AWS_KMS_KEY_ID: 'alias/credreg',
    });
    expect(kms.keyProvider.kind).toBe('pkcs11');
    expect(kms.previousKeyProviders).toEqual([{ kind: 'aws-kms', keyId: 'alias/credreg', tenantKeys: {} }]);
  });

  it('names the CREDREG_PREVIOUS_ variable a retired provider is missing', () => {
    expect(() =>
      loadConfig({
        CREDREG_PREVIOUS_KEY_PROVIDER: 'vault-transit',
        CREDREG_PREVIOUS_VAULT_ADDR: 'http://v:8200',
      }),
    ).toThrow(/CREDREG_PREVIOUS_KEY_PROVIDER=vault-transit needs CREDREG_PREVIOUS_VAULT_TOKEN/);
    // A retired local key is never the embedded default's key file.
    expect(() => loadConfig({ CREDREG_PREVIOUS_KEY_PROVIDER: 'local' })).toThrow(
      /CREDREG_PREVIOUS_KEY_PROVIDER=local needs CREDREG_PREVIOUS_ROOT_KEY or CREDREG_PREVIOUS_ROOT_KEY_FILE/,
    );
    expect(() =>
      loadConfig({ CREDREG_PREVIOUS_KEY_PROVIDER: 'vault-transit', CREDREG_PREVIOUS_VAULT_ADDR: 'ftp://x' }),
    ).toThrow(/CREDREG_PREVIOUS_VAULT_ADDR/);
    expect(() =>
      loadConfig({ CREDREG_PREVIOUS_KEY_PROVIDER: 'vault-transit', CREDREG_PREVIOUS_VAULT_TOKN: 'hvs.old' }),
    ).toThrow(/CREDREG_PREVIOUS_VAULT_TOKN is not a setting of a root key provider/);
    // Settings for a retired provider nobody named are refused, not ignored.
    expect(() => loadConfig({ CREDREG_PREVIOUS_VAULT_TOKEN: 'hvs.old' })).toThrow(
      /CREDREG_PREVIOUS_VAULT_TOKEN is set but CREDREG_PREVIOUS_KEY_PROVIDER is not/,
    );
  });

  it('reads the key cache bounds', () => {
    expect(loadConfig({}).keyCache).toEqual({
      ttlMs: 300_000,
      maxEntries: 10_000,
      maxEntriesPerTenant: 1000,
    });
    expect(
      loadConfig({ CREDREG_KEY_CACHE_MAX: '50', CREDREG_KEY_CACHE_MAX_PER_TENANT: '5' }).keyCache,
    ).toMatchObject({ maxEntries: 50, maxEntriesPerTenant: 5 });
    expect(() => loadConfig({ CREDREG_KEY_CACHE_MAX_PER_TENANT: '0' })).toThrow(
      /CREDREG_KEY_CACHE_MAX_PER_TENANT/,
    );
  });

  it('reads the audit sinks from CREDREG_AUDIT_SINKS, each kind with its defaults', () => {
    expect(loadConfig({}).audit).toMatchObject({ sinkIntervalMs: 1000, sinks: [] });
    expect(loadConfig({ CREDREG_AUDIT_SINK_INTERVAL_MS: '0' }).audit.sinkIntervalMs).toBe(0);
    const c = loadConfig({
      CREDREG_AUDIT_SINKS: JSON.stringify([
        { name: 'f', kind: 'file', path: '/var/log/credreg/audit.jsonl' },
        { name: 's', kind: 'syslog', host: 'syslog.internal', port: 514 },
        { name: 'h', kind: 'http', url: 'https://collector.example.com/credreg' },
        { name: 'o', kind: 'stdout', tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' },
      ]),
    });
    expect(c.audit.sinks).toEqual([
      { name: 'f', kind: 'file', path: '/var/log/credreg/audit.jsonl', maxBytes: 104_857_600, keep: 5 },
      { name: 's', kind: 'syslog', host: 'syslog.internal', port: 514, facility: 13, appName: 'credreg' },
      {
        name: 'h',
        kind: 'http',
        url: 'https://collector.example.com/credreg',
        headers: {},
        timeoutMs: 15_000,
      },
      { name: 'o', kind: 'stdout', tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' },
    ]);
  });

  it('reads a syslog sink over TLS: the files named, not read, and a client key only with its certificate', () => {
    const sinks = (v: unknown) => loadConfig({ CREDREG_AUDIT_SINKS: JSON.stringify(v) }).audit.sinks;
    const tls = {
      caFile: '/etc/credreg/ca.pem',
      certFile: '/etc/credreg/c.pem',
      keyFile: '/etc/credreg/k.pem',
    };
    expect(sinks([{ name: 's', kind: 'syslog', host: 'h', port: 6514, tls }])).toEqual([
      { name: 's', kind: 'syslog', host: 'h', port: 6514, facility: 13, appName: 'credreg', tls },
    ]);
    expect(sinks([{ name: 's', kind: 'syslog', host: 'h', port: 6514, tls: {} }])).toMatchObject([
      { tls: {} },
    ]);
    const refused = (v: unknown) => () =>
      sinks([{ name: 's', kind: 'syslog', host: 'h', port: 6514, tls: v }]);
    expect(refused({ certFile: '/c.pem' })).toThrow(
      /CREDREG_AUDIT_SINKS\.0\.tls\.keyFile certFile and keyFile go together/,
    );
    expect(refused({ keyFile: '/k.pem' })).toThrow(/certFile and keyFile go together/);
    expect(refused({ insecure: true })).toThrow('CREDREG_AUDIT_SINKS.0.tls.insecure is not a known field');
    expect(refused({ caFile: '' })).toThrow(/CREDREG_AUDIT_SINKS\.0\.tls\.caFile/);
    expect(refused({ serverName: '10.0.0.9' })).toThrow(
      /CREDREG_AUDIT_SINKS\.0\.tls\.serverName must be a DNS name, not an address/,
    );
  });

  it('refuses an audit sink with an unknown field, a bad kind, a taken name or a refused URL, saying which', () => {
    const sinks = (v: unknown) => () => loadConfig({ CREDREG_AUDIT_SINKS: JSON.stringify(v) });
    expect(sinks([{ name: 'f', kind: 'file', path: '/a', maxbytes: 10 }])).toThrow(
      'CREDREG_AUDIT_SINKS.0.maxbytes is not a known field',
    );
    expect(sinks([{ name: 'k', kind: 'kafka' }])).toThrow(
      /CREDREG_AUDIT_SINKS\.0\.kind .*'file' \| 'syslog' \| 'http' \| 'stdout'/,
    );
    expect(
      sinks([
        { name: 'o', kind: 'stdout' },
        { name: 'o', kind: 'stdout' },
      ]),
    ).toThrow('CREDREG_AUDIT_SINKS.1.name: another sink is named o');
    expect(sinks([{ name: 'Bad Name', kind: 'stdout' }])).toThrow(/CREDREG_AUDIT_SINKS\.0\.name must be/);
    expect(sinks([{ name: 's', kind: 'syslog', host: 'h' }])).toThrow(/CREDREG_AUDIT_SINKS\.0\.port/);
    expect(sinks({ name: 'o', kind: 'stdout' })).toThrow(/CREDREG_AUDIT_SINKS/);
    expect(() => loadConfig({ CREDREG_AUDIT_SINKS: '[{name:' })).toThrow(
      /CREDREG_AUDIT_SINKS must be a JSON array/,
    );
    // The webhooks' URL policy: no plain http, no private address, unless private URLs are allowed.
    expect(sinks([{ name: 'h', kind: 'http', url: 'http://127.0.0.1:9/x' }])).toThrow(
      /CREDREG_AUDIT_SINKS\.0\.url /,
    );
    expect(
      loadConfig({
        CREDREG_ALLOW_PRIVATE_URLS: 'true',
        CREDREG_AUDIT_SINKS: JSON.stringify([{ name: 'h', kind: 'http', url: 'http://127.0.0.1:9/x' }]),
      }).audit.sinks,
    ).toHaveLength(1);
    for (const err of [
      sinks([{ name: 'h', kind: 'http', url: 'https://c.example.com/', headers: { authorization: 7 } }]),
      sinks([
        {
          name: 'h',
          kind: 'http',
          url: 'https://c.example.com/',
          headers: { 'bad header': 'Bearer hunter2' },
        },
      ]),
    ]) {
      expect(err).toThrow(/CREDREG_AUDIT_SINKS\.0\.headers/);
      expect(err).not.toThrow(/hunter2/);
    }
  });

  it('rejects malformed values with the variable named', () => {
    expect(() => loadConfig({ CREDREG_LISTEN: 'nowhere' })).toThrow(/CREDREG_LISTEN/);
    expect(() => loadConfig({ CREDREG_DB_POOL_MAX: '0' })).toThrow(/CREDREG_DB_POOL_MAX/);
    expect(() => loadConfig({ CREDREG_LOG_LEVEL: 'loud' })).toThrow(/CREDREG_LOG_LEVEL/);
  });
});
