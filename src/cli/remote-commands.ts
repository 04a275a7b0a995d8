import { once } from 'node:events';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type {
  ApiPage,
  AuditEventResource,
  AuditQuery,
  CredentialResource,
  CredentialValue,
  IssuedToken,
  PageQuery,
  PrincipalResource,
  StoredCredentialResource,
  TenantResource,
  TokenResource,
  VaultResource,
} from '../client/api-types.js';
import { paginate } from '../client/paginate.js';
import { RegistryClient } from '../client/registry-client.js';
import { DEFAULT_CLIENT_ADDR, loadClientConfig } from '../config.js';
import {
  ACCESS_ACTIONS,
  ACCESS_OUTCOMES,
  CREDENTIAL_TYPES,
  type CredentialType,
  DEFAULT_EXPIRY_ALERTS,
  ROLES,
  VERSION_STAGES,
  type VersionStage,
} from '../core/types.js';
import { checkProofsExport, exportWithProofs, registerAuditLogCommands } from './audit-log-commands.js';
import { registerAuditVerifyCommand } from './audit-verify-command.js';
import {
  credentialIdOf,
  credentialOf,
  isUuidText,
  parseCredentialRef,
  vaultIdOf,
  wholeCredential,
} from './credential-ref.js';
import { CliError } from './exit-codes.js';
import { readCredentialValue } from './secret-input.js';
import { type Column, csvRow, formatRecord, formatTable } from './text-format.js';
import {
  addValueFlags,
  hasValueFlags,
  planValueFlags,
  type ValueFlagOptions,
  valueFromFlags,
} from './value-flags.js';
import { valueShapesHelp } from './value-shapes-help.js';

/** Where `--addr` points when neither it nor `CREDREG_ADDR` is given. */

/** The options of every remote command. */
export interface RemoteOptions {
  addr?: string;
  token?: string;
  profile?: string;
  json?: boolean;
}

/** The options of a listing: see {@link listing}. */
export interface ListOptions extends RemoteOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

interface AuditFilterOptions {
  credential?: string;
  vault?: string;
  actor?: string;
  action?: AuditQuery['action'];
  outcome?: AuditQuery['outcome'];
  from?: string;
  to?: string;
}

/** The server and token to use: flags first, then `CREDREG_ADDR` and `CREDREG_TOKEN` (see config.ts). */
function resolveConnection(options: Pick<RemoteOptions, 'addr' | 'token' | 'profile'>): {
  addr: string;
  token: string;
} {
  const { addr, token } = loadClientConfig(process.env, options);
  if (!token) {
    throw new CliError(
      'unauthenticated',
      'UNAUTHENTICATED',
      `no API token for ${addr}: run \`credreg login --addr ${addr}\`, set CREDREG_TOKEN, or pass --token`,
    );
  }
  return { addr, token };
}

/**
 * Adds the commands that talk to a running server over HTTP: `tenant`, `token`, `principal`,
 * `vault`, `cred` and `audit`. Each takes `--addr` and `--token`, and all but `audit export`
 * (which has `--format`) take `--json`. Failures are thrown for the caller's one-line
 * `credreg: <message>` handler.
 *
 * @example
 * const program = new Command('credreg');
 * registerRemoteCommands(program);
 * await program.parseAsync(process.argv);
 */
export function registerRemoteCommands(program: Command): void {
  const groups = [
    registerTenantCommands(program),
    registerTokenCommands(program),
    registerPrincipalCommands(program),
    registerVaultCommands(program),
    registerCredentialCommands(program),
    registerKeyCommands(program),
    registerAuditCommands(program),
  ];
  addRemoteOptions(groups.flatMap((group) => group.commands));
  // After the remote options: it reads files only, so it takes no --addr or --token.
  registerAuditVerifyCommand(groups.at(-1)!);
}

/**
 * Adds `--addr`, `--token` and (but to a command with `--format`) `--json` to each command: called
 * once they are defined, so that each command's help lists its own options first.
 */
export function addRemoteOptions(commands: readonly Command[]): void {
  for (const command of commands) {
    // A group (`cred rotation`) passes them on to its own commands: options on the group itself
    // would take `--json` and `--token` before the command they were written after saw them.
    if (command.commands.length > 0) {
      addRemoteOptions(command.commands);
      continue;
    }
    addConnectionOptions(command);
    // A command with --format (audit export) already writes a format meant for programs.
    if (!command.options.some((o) => o.long === '--format'))
      command.option('--json', 'print JSON, for scripts');
  }
}

function registerTenantCommands(program: Command): Command {
  const tenant = program.command('tenant').description('manage tenants (platform token)');

  tenant
    .command('create')
    .argument('<name>', 'tenant name')
    .description('create a tenant')
    .action(async (name: string, opts: RemoteOptions) => {
      const created = await connect(opts).createTenant({ name });
      print(opts, created, () => formatRecord(tenantFields(created)));
    });

  listing(tenant.command('list'))
    .description('list tenants')
    .option('--name <name>', 'only the tenant of this exact name')
    .action(async (opts: ListOptions & { name?: string }) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listTenants({ ...q, name: opts.name }), TENANT_COLUMNS);
    });

  tenant
    .command('get')
    .argument('<tenant>', 'tenant id or exact name')
    .description('show one tenant; `--json` for scripts: credreg tenant get acme --json | jq -r .id')
    .action(async (ref: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const found = await tenantOf(client, ref);
      print(opts, found, () => formatRecord(tenantFields(found)));
    });
  return tenant;
}

function registerTokenCommands(program: Command): Command {
  const token = program.command('token').description('manage API tokens');

  token
    .command('create')
    .description('create a token for a principal of your tenant; prints its secret, shown only once')
    .requiredOption('--principal <id>', 'principal the token acts as')
    .addOption(new Option('--role <role>', 'what the token may do').choices(ROLES).makeOptionMandatory())
    .option('--vault <vault>', 'limit the token to one vault (its id or name)')
    .option('--expires <time>', 'expiry, ISO 8601 (e.g. 2026-12-31T00:00:00Z)', instant)
    .action(
      async (
        opts: RemoteOptions & {
          principal: string;
          role: TokenResource['role'];
          vault?: string;
          expires?: string;
        },
      ) => {
        const client = connect(opts);
        const issued = await client.createToken({
          principalId: opts.principal,
          role: opts.role,
          vaultId: opts.vault === undefined ? undefined : await vaultIdOf(client, opts.vault),
          expiresAt: opts.expires,
        });
        printIssuedToken(opts, issued);
      },
    );

  token
    .command('create-admin')
    .description(
      "create a tenant's first administrator and its token (platform token); prints the secret once",
    )
    .requiredOption('--tenant <tenant>', 'tenant id or exact name')
    .requiredOption('--name <name>', 'name of the principal to create')
    .action(async (opts: RemoteOptions & { tenant: string; name: string }) => {
      const client = connect(opts);
      // A UUID goes as it is (the server answers 404 for an unknown one); a name is looked up.
      const tenantId = isUuidText(opts.tenant)
        ? opts.tenant.toLowerCase()
        : (await tenantOf(client, opts.tenant)).id;
      const issued = await client.createTenantAdminToken(tenantId, {
        name: opts.name,
        role: 'admin',
      });
      printIssuedToken(opts, issued);
    });

  listing(token.command('list'))
    .description("list your tenant's tokens (never their secrets)")
    .action(async (opts: ListOptions) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listTokens(q), TOKEN_COLUMNS);
    });

  token
    .command('revoke')
    .argument('<id>', 'token id')
    .description('revoke a token')
    .action(async (id: string, opts: RemoteOptions) => {
      await connect(opts).revokeToken(id);
      print(opts, { id, revoked: true }, () => `revoked token ${id}`);
    });
  return token;
}

function registerPrincipalCommands(program: Command): Command {
  const principal = program.command('principal').description('manage the users and services of your tenant');

  principal
    .command('create')
    .argument('<name>', 'principal name')
    .description('create a principal')
    .addOption(
      new Option('--kind <kind>', 'a person or a program').choices(['user', 'service']).default('user'),
    )
    .action(async (name: string, opts: RemoteOptions & { kind: PrincipalResource['kind'] }) => {
      const created = await connect(opts).createPrincipal({ name, kind: opts.kind });
      print(opts, created, () => formatRecord(PRINCIPAL_COLUMNS.map((c) => [c.header, c.cell(created)])));
    });

  listing(principal.command('list'))
    .description('list principals')
    .action(async (opts: ListOptions) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listPrincipals(q), PRINCIPAL_COLUMNS);
    });
  return principal;
}

function registerVaultCommands(program: Command): Command {
  const vault = program.command('vault').description('manage vaults');

  vault
    .command('create')
    .argument('<name>', 'vault name')
    .description('create a vault')
    .option('--description <text>', 'what the vault holds')
    .option('--max-versions <n>', 'versions of each credential kept decryptable (Default: 10)', positiveInt)
    .option(
      '--expiry-alerts <windows>',
      'default expiry alerts of its credentials, e.g. P30D,P7D,P1D; "off" for none (Default: P30D,P7D,P1D)',
      alertWindows,
    )
    .action(
      async (
        name: string,
        opts: RemoteOptions & {
          description?: string;
          maxVersions?: number;
          expiryAlerts?: Setting<string[]>;
        },
      ) => {
        const created = await connect(opts).createVault({
          name,
          description: opts.description,
          maxVersions: opts.maxVersions,
          expiryAlerts: opts.expiryAlerts?.value ?? undefined,
        });
        print(opts, created, () => formatRecord(vaultFields(created)));
      },
    );

  vault
    .command('update')
    .argument('<vault>', 'vault id or name')
    .description("change a vault's settings; its credentials that set no expiry alerts follow at once")
    .requiredOption(
      '--expiry-alerts <windows>',
      'default expiry alerts of its credentials, e.g. P30D,P7D,P1D; "off" for none; "default" for P30D,P7D,P1D',
      alertWindows,
    )
    .action(async (vault: string, opts: RemoteOptions & { expiryAlerts: Setting<string[]> }) => {
      const client = connect(opts);
      const updated = await client.updateVault(await vaultIdOf(client, vault), {
        expiryAlerts: opts.expiryAlerts.value,
      });
      print(opts, updated, () => formatRecord(vaultFields(updated)));
    });

  vault
    .command('get')
    .argument('<vault>', 'vault id or name')
    .description("a vault's settings")
    .action(async (vault: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const found = await client.getVault(await vaultIdOf(client, vault));
      print(opts, found, () => formatRecord(vaultFields(found)));
    });

  listing(vault.command('list'))
    .description('list vaults')
    .option('--name <name>', 'only the vault of this exact name')
    .option('--prefix <text>', 'only the vaults whose name starts with this')
    .action(async (opts: ListOptions & { name?: string; prefix?: string }) => {
      const client = connect(opts);
      await printPage(
        opts,
        (q) => client.listVaults({ ...q, name: opts.name, prefix: opts.prefix }),
        VAULT_COLUMNS,
      );
    });

  vault
    .command('rm')
    .argument('<vault>', 'vault id or name')
    .description('delete a vault')
    .option('--force', 'delete it even if it still holds credentials')
    .action(async (vault: string, opts: RemoteOptions & { force?: boolean }) => {
      const client = connect(opts);
      const id = await vaultIdOf(client, vault);
      await client.deleteVault(id, { force: opts.force === true });
      print(opts, { id, deleted: true }, () => `deleted vault ${id}`);
    });
  return vault;
}

/**
 * The id of the vault a `keys` command acts on: `credreg keys rotate <vault>` or
 * `credreg keys rotate --vault <vault>`, by id or name.
 */
async function vaultOf(
  client: RegistryClient,
  arg: string | undefined,
  opts: { vault?: string },
): Promise<string> {
  if (arg && opts.vault && arg !== opts.vault)
    throw new InvalidArgumentError('give the vault once: as an argument or with --vault');
  const given = arg ?? opts.vault;
  if (!given)
    throw new InvalidArgumentError('which vault? give its id or name, as an argument or with --vault');
  return vaultIdOf(client, given);
}

function registerKeyCommands(program: Command): Command {
  const keys = program
    .command('keys')
    .description("rotate a vault's key and move data keys to it (no value is decrypted)");

  keys
    .command('rotate-root')
    .description(
      'platform admin: re-wrap every vault key not under the current root key (a retired key, another provider, an older Transit version)',
    )
    .action(async (opts: RemoteOptions) => {
      const r = await connect(opts).rotateRootKey();
      print(
        opts,
        r,
        () =>
          `re-wrapped ${r.rewrapped} vault keys under the current root key` +
          (r.failed ? `; ${r.failed} could not be unwrapped (see the access log)` : ''),
      );
    });

  keys
    .command('root-status')
    .description('platform admin: which root keys wrap the vault keys, and how many a root rotation has left')
    .action(async (opts: RemoteOptions) => {
      const status = await connect(opts).rootKeyStatus();
      print(
        opts,
        status,
        () =>
          `${formatTable(
            [
              { header: 'PROVIDER', cell: (g: (typeof status.wrappedBy)[number]) => g.provider },
              { header: 'KEY', cell: (g) => g.providerKeyId },
              { header: 'CURRENT', cell: (g) => (g.current ? 'yes' : 'no') },
              { header: 'VAULT KEYS', cell: (g) => g.vaultKeys },
            ],
            status.wrappedBy,
          )}\n${status.remaining} vault keys left to re-wrap`,
      );
    });

  keys
    .command('status')
    .argument('[vault]', 'vault id or name')
    .option('--vault <vault>', 'vault id or name')
    .description('each vault-key version and how many data keys still use it')
    .action(async (arg: string | undefined, opts: RemoteOptions & { vault?: string }) => {
      const client = connect(opts);
      const status = await client.vaultKeyStatus(await vaultOf(client, arg, opts));
      print(opts, status, () =>
        formatTable(
          [
            { header: 'VERSION', cell: (v: (typeof status.versions)[number]) => v.version },
            { header: 'CURRENT', cell: (v) => (v.version === status.currentVersion ? 'yes' : '') },
            { header: 'DATA KEYS', cell: (v) => v.dataKeys },
            { header: 'CREATED', cell: (v) => v.createdAt },
          ],
          status.versions,
        ),
      );
    });

  keys
    .command('rotate')
    .argument('[vault]', 'vault id or name')
    .option('--vault <vault>', 'vault id or name')
    .description('make a new vault-key version current; new writes use it at once')
    .action(async (arg: string | undefined, opts: RemoteOptions & { vault?: string }) => {
      const client = connect(opts);
      const vaultId = await vaultOf(client, arg, opts);
      const r = await client.rotateVaultKey(vaultId);
      print(
        opts,
        r,
        () => `vault ${vaultId} now uses key version ${r.version}; run \`credreg keys rewrap ${vaultId}\``,
      );
    });

  keys
    .command('rewrap')
    .argument('[vault]', 'vault id or name')
    .option('--vault <vault>', 'vault id or name')
    .description('move data keys to the current vault-key version (resumable)')
    .option('--batch-size <n>', 'data keys per transaction (Default: 500)', positiveInt)
    .option('--max-batches <n>', 'stop after this many batches (Default: until done)', positiveInt)
    .action(
      async (
        arg: string | undefined,
        opts: RemoteOptions & { vault?: string; batchSize?: number; maxBatches?: number },
      ) => {
        const client = connect(opts);
        const r = await client.rewrapVaultKeys(await vaultOf(client, arg, opts), {
          batchSize: opts.batchSize,
          maxBatches: opts.maxBatches,
        });
        print(
          opts,
          r,
          () => `re-wrapped ${r.rewrapped} data keys; ${r.remaining} remain under older key versions`,
        );
      },
    );

  keys
    .command('destroy')
    .argument('<vault>', 'vault id or name')
    .argument('<version>', 'vault-key version', positiveInt)
    .description('destroy an old vault-key version once no data key uses it')
    .action(async (vault: string, version: number, opts: RemoteOptions) => {
      const client = connect(opts);
      const vaultId = await vaultIdOf(client, vault);
      await client.destroyVaultKeyVersion(vaultId, version);
      print(
        opts,
        { vaultId, version, destroyed: true },
        () => `destroyed key version ${version} of vault ${vaultId}`,
      );
    });
  return keys;
}

function registerCredentialCommands(program: Command): Command {
  const cred = program
    .command('cred')
    .description(
      'store, reveal and rotate credentials; values are read from stdin, a prompt that does not echo, or the files --field name=@path and --cert-file name',
    );

  addValueFlags(
    cred
      .command('put')
      .alias('store')
      .argument('<vault>', 'vault id or name')
      .argument('<name>', 'credential name')
      .description(
        'store a new credential; its value comes from stdin, or a prompt that does not echo. ' +
          'String types take the raw text (one trailing newline dropped); others take JSON, or ' +
          '--field (and --cert-file, --key-file, --chain-file for a certificate) instead',
      ),
  )
    .addOption(new Option('--type <type>', 'credential type').choices(CREDENTIAL_TYPES).makeOptionMandatory())
    .option('--metadata <json>', 'JSON object stored in clear: never secrets', jsonObject)
    .option('--expires <time>', 'expiry, ISO 8601', instant)
    .option('--rotation <duration>', 'rotation schedule, ISO 8601 duration (e.g. P90D)')
    .option(
      '--expiry-alerts <windows>',
      'alerts before --expires, e.g. P30D,P7D; "off" for none (Default: the vault\'s)',
      alertWindows,
    )
    .addHelpText('after', () => valueShapesHelp())
    .action(
      async (
        vaultId: string,
        name: string,
        opts: RemoteOptions &
          ValueFlagOptions & {
            type: CredentialType;
            metadata?: Record<string, unknown>;
            expires?: string;
            rotation?: string;
            expiryAlerts?: Setting<string[]>;
          },
      ) => {
        // The flags first: a usage error is reported before the server is asked anything.
        const fields = planValueFlags(opts.type, opts);
        const client = connect(opts);
        // The vault next: a wrong one is reported before a value is asked for.
        const id = await vaultIdOf(client, vaultId);
        const value = ((await valueFromFlags(fields)) ??
          (await readCredentialValue(opts.type, name))) as CredentialValue;
        const stored = await client.storeCredential(id, {
          name,
          type: opts.type,
          value,
          metadata: opts.metadata,
          expiresAt: opts.expires,
          rotationSchedule: opts.rotation,
          expiryAlerts: opts.expiryAlerts?.value ?? undefined,
        });
        print(opts, stored, () => formatRecord(credentialFields(stored)));
      },
    );

  cred
    .command('update')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description(
      "change a credential's metadata, expiry or expiry alerts (never its value: see `cred rotate`)",
    )
    .option('--metadata <json>', 'JSON object stored in clear, replacing the old: never secrets', jsonObject)
    .option('--expires <time>', 'new expiry, ISO 8601; "never" clears it', instantOrNever)
    .option(
      '--expiry-alerts <windows>',
      'alerts before the expiry, e.g. P30D,P7D; "off" for none; "inherit" for the vault\'s',
      alertWindows,
    )
    .action(
      async (
        id: string,
        opts: RemoteOptions & {
          metadata?: Record<string, unknown>;
          expires?: Setting<string>;
          expiryAlerts?: Setting<string[]>;
        },
      ) => {
        const client = connect(opts);
        const updated = await client.updateCredential(await credentialIdOf(client, id), {
          metadata: opts.metadata,
          expiresAt: opts.expires?.value,
          expiryAlerts: opts.expiryAlerts?.value,
        });
        print(opts, updated, () => formatRecord(credentialFields(updated)));
      },
    );

  cred
    .command('show')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description("a credential's metadata: type, version, expiry, rotation (never its value: see `cred get`)")
    .action(async (ref: string, opts: RemoteOptions) => {
      const c = await credentialOf(connect(opts), ref);
      print(opts, c, () => formatRecord(credentialFields(c)));
    });

  for (const [name, active, what] of [
    ['deactivate', false, 'refuse every reveal and rotation of a credential until it is activated again'],
    ['activate', true, 'allow reveals and rotations of a deactivated credential again'],
  ] as const) {
    cred
      .command(name)
      .argument('<credential>', 'credential id or path (vault/name)')
      .description(what)
      .action(async (ref: string, opts: RemoteOptions) => {
        const client = connect(opts);
        const updated = await client.updateCredential(await credentialIdOf(client, ref), { active });
        print(opts, updated, () => `${updated.name} is ${active ? 'active' : 'deactivated'}`);
      });
  }

  cred
    .command('get')
    .argument('<credential>', 'credential id or path (vault/name, e.g. payments/stripe)')
    .description(
      'reveal a value (logged with your reason); prints the value alone, JSON for structured types',
    )
    .requiredOption('--reason <text>', 'why you need it; recorded in the access log')
    // Not --version, which a program-level version flag would take before this command saw it.
    .option('--at-version <n>', 'a past version (Default: the current one)', positiveInt)
    .addOption(
      new Option('--stage <stage>', 'the version at a stage instead: current, pending or previous')
        .choices(VERSION_STAGES)
        .conflicts('atVersion'),
    )
    .action(
      async (
        id: string,
        opts: RemoteOptions & { reason: string; atVersion?: number; stage?: VersionStage },
      ) => {
        const ref = wholeCredential(parseCredentialRef(id), id);
        const body = { reason: opts.reason, version: opts.atVersion, stage: opts.stage };
        const client = connect(opts);
        const revealed =
          'id' in ref
            ? await client.revealCredential(ref.id, body)
            : await client.revealSecret(ref.vault, ref.name, body);
        const value = revealed.value;
        print(opts, revealed, () => (typeof value === 'string' ? value : JSON.stringify(value, null, 2)));
      },
    );

  addValueFlags(
    cred
      .command('rotate')
      .argument('<credential>', 'credential id or path (vault/name)')
      .description(
        "store a new version and make it current; the value is read like `cred put` (stdin, a prompt, or --field and the certificate's file flags), or made by the credential's rotator when it has one and neither a value is piped in nor a value flag given",
      )
      .option('--expected-version <n>', 'refuse unless this is still the current version', positiveInt)
      .option('--expires <time>', 'new expiry, ISO 8601', instant)
      .option('--rotator', "run the credential's rotator, even with something on stdin"),
  )
    .addHelpText('after', () => valueShapesHelp())
    .action(
      async (
        id: string,
        opts: RemoteOptions &
          ValueFlagOptions & { expectedVersion?: number; expires?: string; rotator?: boolean },
      ) => {
        if (opts.rotator && hasValueFlags(opts))
          throw new CliError(
            'usage',
            'USAGE',
            '--rotator makes the value itself: leave out --field, --cert-file, --key-file and --chain-file',
          );
        const client = connect(opts);
        const ref = wholeCredential(parseCredentialRef(id), id);
        // The value's format depends on the type, which the server knows.
        const current =
          'id' in ref ? await client.getCredential(ref.id) : await client.getSecret(ref.vault, ref.name);
        const rotate = (body: Parameters<RegistryClient['rotateCredential']>[1]) =>
          'id' in ref
            ? client.rotateCredential(ref.id, body)
            : client.rotateSecret(ref.vault, ref.name, body);
        // The flags against the type, before anything is sent.
        const fields = planValueFlags(current.type, opts);
        if (current.rotation && (opts.rotator || (process.stdin.isTTY && fields.length === 0))) {
          const rotated = await rotate({});
          print(
            opts,
            rotated,
            () =>
              `rotated ${rotated.credential.name} to version ${rotated.version} (${current.rotation?.rotator.type})`,
          );
          return;
        }
        const value = ((await valueFromFlags(fields)) ??
          (await readCredentialValue(current.type, current.name))) as CredentialValue;
        const rotated = await rotate({
          value,
          expectedVersion: opts.expectedVersion,
          expiresAt: opts.expires,
        });
        print(opts, rotated, () => `rotated ${rotated.credential.name} to version ${rotated.version}`);
      },
    );

  const rotation = cred.command('rotation').description("a credential's rotator and schedule");
  rotation
    .command('set')
    .argument('<credential>', 'credential id or path (vault/name)')
    .requiredOption('--rotator <type>', 'random, postgresql, mysql, oauth2_refresh, webhook')
    .option('--schedule <when>', 'ISO 8601 duration (P30D) or cron expression; absent: on demand only')
    .option(
      '--settings <json>',
      "the rotator's settings as a JSON object (ids and options, never secrets)",
      jsonObject,
    )
    .option('--url <url>', "the webhook rotator's endpoint, https (the same as --settings '{\"url\": …}')")
    .description(
      'set how the credential rotates by itself (see docs/rotation.md); a webhook rotator prints its signing secret, this once',
    )
    .action(
      async (
        id: string,
        opts: RemoteOptions & { rotator: string; schedule?: string; settings?: object; url?: string },
      ) => {
        const client = connect(opts);
        const updated = await client.updateCredential(await credentialIdOf(client, id), {
          rotation: {
            ...(opts.schedule ? { schedule: opts.schedule } : {}),
            rotator: { ...(opts.settings ?? {}), ...(opts.url ? { url: opts.url } : {}), type: opts.rotator },
          },
        });
        print(opts, updated.rotation, () => rotationText(updated.rotation));
      },
    );
  rotation
    .command('signing-secret')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description(
      "replace the webhook rotator's signing secret: prints the new one, this once; the old one stays valid for 24 hours",
    )
    .action(async (id: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const replaced = await client.replaceSigningSecret(await credentialIdOf(client, id));
      print(opts, replaced, () =>
        [
          signingSecretText(replaced.signingSecret),
          ...(replaced.previousRetiresAt
            ? [`PREVIOUS SECRET VALID UNTIL\t${replaced.previousRetiresAt}`]
            : []),
        ].join('\n'),
      );
    });
  rotation
    .command('show')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description("the credential's rotation settings and state (never a value)")
    .action(async (id: string, opts: RemoteOptions) => {
      const c = await credentialOf(connect(opts), id);
      print(opts, c.rotation, () => rotationText(c.rotation));
    });
  rotation
    .command('clear')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description('stop rotating the credential by itself')
    .action(async (id: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const updated = await client.updateCredential(await credentialIdOf(client, id), { rotation: null });
      print(opts, updated.rotation, () => rotationText(updated.rotation));
    });

  listing(cred.command('list').argument('<vault>', 'vault id or name'))
    .description("list a vault's credentials (metadata only)")
    .option('--include-deleted', 'include soft-deleted credentials')
    .option('--name <name>', 'only the credential of this exact name')
    .option('--prefix <text>', 'only the credentials whose name starts with this')
    .action(
      async (
        vault: string,
        opts: ListOptions & { includeDeleted?: boolean; name?: string; prefix?: string },
      ) => {
        const client = connect(opts);
        const vaultId = await vaultIdOf(client, vault);
        await printPage(
          opts,
          (q) =>
            client.listCredentials(vaultId, {
              ...q,
              includeDeleted: opts.includeDeleted || undefined,
              name: opts.name,
              prefix: opts.prefix,
            }),
          CREDENTIAL_COLUMNS,
        );
      },
    );

  cred
    .command('versions')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description("list a credential's versions")
    .action(async (id: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const ref = wholeCredential(parseCredentialRef(id), id);
      const versions =
        'id' in ref
          ? await client.listVersions(ref.id)
          : await client.listSecretVersions(ref.vault, ref.name);
      print(opts, versions, () =>
        formatTable(
          [
            { header: 'VERSION', cell: (v) => v.version },
            { header: 'STAGES', cell: (v) => v.stages.join(',') || '-' },
            { header: 'KEY VERSION', cell: (v) => v.vaultKeyVersion },
            { header: 'CREATED', cell: (v) => v.createdAt },
            // The principal's name where there is one (`--json` carries both).
            { header: 'CREATED BY', cell: (v) => v.createdByName ?? v.createdBy },
            { header: 'DESTROYED', cell: (v) => v.destroyedAt },
          ],
          versions.items,
        ),
      );
    });

  cred
    .command('rm')
    .argument('<credential>', 'credential id or path (vault/name)')
    .description('soft-delete a credential; `cred restore` brings it back within the recovery window')
    .option('--recovery-window <days>', 'days it stays restorable, 1 to 30 (Default: 7)', positiveInt)
    .action(async (id: string, opts: RemoteOptions & { recoveryWindow?: number }) => {
      const client = connect(opts);
      const deleted = await client.deleteCredential(await credentialIdOf(client, id), {
        recoveryWindowDays: opts.recoveryWindow,
      });
      print(opts, deleted, () => `deleted ${deleted.name}; restorable until ${deleted.purgeAfter ?? '-'}`);
    });

  cred
    .command('restore')
    .argument('<credential>', 'credential id or path (vault/name: its one deleted credential of that name)')
    .description('restore a soft-deleted credential')
    .action(async (id: string, opts: RemoteOptions) => {
      const client = connect(opts);
      const restored = await client.restoreCredential(await credentialIdOf(client, id, { deleted: true }));
      print(opts, restored, () => formatRecord(credentialFields(restored)));
    });
  return cred;
}

function registerAuditCommands(program: Command): Command {
  const audit = program.command('audit').description("read your tenant's access log, newest first");

  auditFilters(listing(audit.command('list')))
    .description('list access-log entries')
    .action(async (opts: ListOptions & AuditFilterOptions) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listAudit({ ...auditQuery(opts), ...q }), AUDIT_COLUMNS);
    });

  auditFilters(audit.command('export'))
    .description('write every matching entry to stdout, walking all pages')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .option(
      '--proofs',
      'the whole log in its tree order, after a signed checkpoint, each entry with its inclusion proof: what `audit verify` checks (docs/audit.md)',
    )
    .action(
      async (opts: RemoteOptions & AuditFilterOptions & { format: 'jsonl' | 'csv'; proofs?: boolean }) => {
        const client = connect(opts);
        if (opts.proofs) {
          checkProofsExport(opts);
          return exportWithProofs(client);
        }
        const query = auditQuery(opts);
        const entries = paginate((cursor) => client.listAudit({ ...query, limit: 1000, cursor }));
        if (opts.format === 'csv') await writeLine(csvRow(AUDIT_FIELDS));
        for await (const entry of entries) {
          const line =
            opts.format === 'csv' ? csvRow(AUDIT_FIELDS.map((f) => entry[f])) : JSON.stringify(entry);
          if (!(await writeLine(line))) break;
        }
      },
    );
  registerAuditLogCommands(audit);
  return audit;
}

function addConnectionOptions(command: Command): void {
  command
    .option(
      '--addr <url>',
      `server address (Default: $CREDREG_ADDR, else the profile's, else ${DEFAULT_CLIENT_ADDR})`,
    )
    .option('--token <token>', 'API token (Default: $CREDREG_TOKEN; prefer it: flags show in process lists)')
    .option(
      '--profile <name>',
      'profile stored by `credreg login`, used for what --addr/--token and the environment leave unset (Default: $CREDREG_PROFILE, else default)',
    );
}

/** Adds `--limit`, `--cursor` and `--all` to a listing command (see {@link printPage}). */
export function listing(command: Command): Command {
  return command
    .option('--limit <n>', 'page size, at most 1000 (Default: 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'walk every page');
}

function auditFilters(command: Command): Command {
  return command
    .option('--credential <id>', 'only this credential')
    .option('--vault <id>', 'only this vault')
    .option('--actor <actor>', 'only this actor')
    .addOption(new Option('--action <action>', 'only this action').choices(ACCESS_ACTIONS))
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(ACCESS_OUTCOMES))
    .option('--from <time>', 'entries at or after this instant, ISO 8601', instant)
    .option('--to <time>', 'entries before this instant, ISO 8601', instant);
}

function auditQuery(opts: AuditFilterOptions): AuditQuery {
  return {
    credentialId: opts.credential,
    vaultId: opts.vault,
    actor: opts.actor,
    action: opts.action,
    outcome: opts.outcome,
    from: opts.from,
    to: opts.to,
  };
}

/** A client of the server that the flags or the environment name. */
export function connect(opts: RemoteOptions): RegistryClient {
  return new RegistryClient(resolveConnection(opts));
}

/** A signing secret as people are shown it: once, with what to do with it. */
const signingSecretText = (secret: string) =>
  `SIGNING SECRET\t${secret}\n(shown once: give it to the rotation endpoint, which verifies each request with it)`;

/** A rotation as lines for people: settings, state, what comes next, and a signing secret made now. */
function rotationText(r: StoredCredentialResource['rotation']): string {
  if (!r) return 'no rotator: rotate with a value';
  const { type, ...settings } = r.rotator;
  return [
    ...(r.signingSecret ? [signingSecretText(r.signingSecret)] : []),
    `ROTATOR\t${type}${Object.keys(settings).length ? ` ${JSON.stringify(settings)}` : ''}`,
    `SCHEDULE\t${r.schedule ?? '(on demand)'}`,
    `STATE\t${r.state}${r.attempts ? ` (${r.attempts} failed attempts)` : ''}`,
    `NEXT\t${r.nextRotationAt ?? '-'}`,
    ...(r.lastError ? [`LAST ERROR\t${r.lastError.code}: ${r.lastError.message}`] : []),
    ...(r.pendingVersion ? [`PENDING\tversion ${r.pendingVersion}`] : []),
  ].join('\n');
}

/** Writes `data` as JSON with `--json`, else what `human` makes of it. */
export function print(opts: RemoteOptions, data: unknown, human: () => string): void {
  guardStdout();
  process.stdout.write(`${opts.json ? JSON.stringify(data, null, 2) : human()}\n`);
}

/**
 * Writes one line, honouring back-pressure so that a long export into a slow pipe does not pile
 * up in memory. Resolves false once the reader has gone: there is no point fetching more.
 */
export async function writeLine(line: string): Promise<boolean> {
  guardStdout();
  if (process.stdout.destroyed) return false;
  if (!process.stdout.write(`${line}\n`)) {
    await once(process.stdout, 'drain').catch(() => undefined);
  }
  return !process.stdout.destroyed;
}

let stdoutGuarded = false;

/** A reader that leaves early (`| head`) is not a failure: the output just stops there. */
function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/** One page (or, with `--all`, every page) as a table; says on stderr how to get the next one. */
export async function printPage<T>(
  opts: ListOptions,
  list: (query: PageQuery) => Promise<ApiPage<T>>,
  columns: readonly Column<T>[],
): Promise<void> {
  let page: ApiPage<T>;
  if (opts.all) {
    const items: T[] = [];
    for await (const item of paginate((cursor) => list({ limit: opts.limit, cursor }))) items.push(item);
    page = { items, nextCursor: null };
  } else {
    page = await list({ limit: opts.limit, cursor: opts.cursor });
  }
  print(opts, page, () => formatTable(columns, page.items));
  if (!opts.json && page.nextCursor !== null) {
    process.stderr.write(`more: pass --cursor ${page.nextCursor} (or --all)\n`);
  }
}

function printIssuedToken(opts: RemoteOptions, issued: IssuedToken): void {
  // The secret alone on stdout, so that `$(credreg token create …)` captures just it.
  print(opts, issued, () => issued.token);
  if (!opts.json) {
    process.stderr.write(
      `token ${issued.id}: role ${issued.role} for principal ${issued.principalId}; it is not shown again\n`,
    );
  }
}

/** A tenant by id (text in the form of a UUID) or by its exact name; a missing one is NOT_FOUND (exit 4). */
async function tenantOf(client: RegistryClient, ref: string): Promise<TenantResource> {
  if (isUuidText(ref)) return client.getTenant(ref.toLowerCase());
  const [found] = (await client.listTenants({ name: ref, limit: 1 })).items;
  if (!found) throw new CliError('not_found', 'NOT_FOUND', `no tenant is named ${JSON.stringify(ref)}`);
  return found;
}

function tenantFields(t: TenantResource): [string, unknown][] {
  return TENANT_COLUMNS.map((c) => [c.header, c.cell(t)]);
}

function vaultFields(v: VaultResource): [string, unknown][] {
  return [
    ['ID', v.id],
    ['NAME', v.name],
    ['DESCRIPTION', v.description],
    ['MAX VERSIONS', v.maxVersions],
    ['KEY VERSION', v.currentKeyVersion],
    [
      'EXPIRY ALERTS',
      v.expiryAlerts ? v.expiryAlerts.join(',') || 'off' : `${DEFAULT_EXPIRY_ALERTS.join(',')} (default)`,
    ],
    ['CREATED', v.createdAt],
    ['CREATED BY', v.createdBy],
  ];
}

function credentialFields(c: CredentialResource): [string, unknown][] {
  return [
    ['ID', c.id],
    ['NAME', c.name],
    ['TYPE', c.type],
    ['VAULT', c.vaultId],
    ['VERSION', c.currentVersion],
    ['ACTIVE', c.isActive],
    ['EXPIRES', c.expiresAt],
    ['EXPIRY ALERTS', expiryAlertsText(c)],
    ['ROTATION', c.rotationSchedule],
    ['NEXT ROTATION', c.rotation?.nextRotationAt],
    ['METADATA', Object.keys(c.metadata).length > 0 ? c.metadata : null],
    ['CREATED', c.createdAt],
    ['UPDATED', c.updatedAt],
    ['LAST ROTATED', c.lastRotatedAt],
    ['DELETED', c.deletedAt],
    ['PURGE AFTER', c.purgeAfter],
  ];
}

const TENANT_COLUMNS: Column<TenantResource>[] = [
  { header: 'ID', cell: (t) => t.id },
  { header: 'NAME', cell: (t) => t.name },
  { header: 'CREATED', cell: (t) => t.createdAt },
];

const PRINCIPAL_COLUMNS: Column<PrincipalResource>[] = [
  { header: 'ID', cell: (p) => p.id },
  { header: 'NAME', cell: (p) => p.name },
  { header: 'KIND', cell: (p) => p.kind },
  { header: 'CREATED', cell: (p) => p.createdAt },
];

const TOKEN_COLUMNS: Column<TokenResource>[] = [
  { header: 'ID', cell: (t) => t.id },
  { header: 'PRINCIPAL', cell: (t) => t.principalId },
  { header: 'ROLE', cell: (t) => t.role },
  { header: 'VAULT', cell: (t) => t.vaultId },
  { header: 'EXPIRES', cell: (t) => t.expiresAt },
  { header: 'REVOKED', cell: (t) => t.revokedAt },
  { header: 'CREATED', cell: (t) => t.createdAt },
];

const VAULT_COLUMNS: Column<VaultResource>[] = [
  { header: 'ID', cell: (v) => v.id },
  { header: 'NAME', cell: (v) => v.name },
  { header: 'MAX VERSIONS', cell: (v) => v.maxVersions },
  { header: 'CREATED', cell: (v) => v.createdAt },
  { header: 'DESCRIPTION', cell: (v) => v.description },
];

const CREDENTIAL_COLUMNS: Column<CredentialResource>[] = [
  { header: 'ID', cell: (c) => c.id },
  { header: 'NAME', cell: (c) => c.name },
  { header: 'TYPE', cell: (c) => c.type },
  { header: 'VERSION', cell: (c) => c.currentVersion },
  { header: 'ACTIVE', cell: (c) => c.isActive },
  { header: 'EXPIRES', cell: (c) => c.expiresAt },
  { header: 'NEXT ROTATION', cell: (c) => c.rotation?.nextRotationAt },
  { header: 'DELETED', cell: (c) => c.deletedAt },
];

const AUDIT_COLUMNS: Column<AuditEventResource>[] = [
  { header: 'TIME', cell: (e) => e.occurredAt },
  { header: 'ACTION', cell: (e) => e.action },
  { header: 'OUTCOME', cell: (e) => e.outcome },
  // The principal's name where there is one, else the actor as recorded (`--json` carries both).
  { header: 'ACTOR', cell: (e) => e.actorName ?? e.actor },
  { header: 'CREDENTIAL', cell: (e) => e.credentialId },
  { header: 'VERSION', cell: (e) => e.version },
  { header: 'ERROR', cell: (e) => e.errorCode },
  { header: 'REASON', cell: (e) => e.reason },
];

/** The CSV columns of `audit export`, in the API's field order. */
const AUDIT_FIELDS = [
  'id',
  'tenantId',
  'occurredAt',
  'credentialId',
  'vaultId',
  'action',
  'outcome',
  'actor',
  'reason',
  'sourceIp',
  'userAgent',
  'requestId',
  'clientRequestId',
  'version',
  'errorCode',
] as const satisfies readonly (keyof AuditEventResource)[];

/** A credential's alert windows in effect, and where they come from. */
function expiryAlertsText(c: CredentialResource): string {
  const windows = c.effectiveExpiryAlerts.join(',') || 'off';
  return c.expiryAlerts ? windows : `${windows} (the vault's)`;
}

/** An option that may clear a setting: boxed, since commander takes an option parsed to null as unset. */
interface Setting<T> {
  value: T | null;
}

/** `P30D,P7D,P1D` as a list; `off` (or `none`) is no alerts, `inherit` (or `default`) clears the setting. */
function alertWindows(text: string): Setting<string[]> {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === 'none') return { value: [] };
  if (t === 'inherit' || t === 'default') return { value: null };
  return {
    value: text
      .split(',')
      .map((w) => w.trim())
      .filter(Boolean),
  };
}

/** An instant, or `never` for none. */
function instantOrNever(text: string): Setting<string> {
  return { value: text.trim().toLowerCase() === 'never' ? null : instant(text) };
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a positive whole number.');
  }
  return n;
}

function instant(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('must be an ISO 8601 date-time, e.g. 2026-12-31T00:00:00Z.');
  return new Date(ms).toISOString();
}

function jsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. {"owner":"billing"}.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidArgumentError('must be a JSON object, e.g. {"owner":"billing"}.');
  }
  return parsed as Record<string, unknown>;
}
