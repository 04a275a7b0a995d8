/**
 * Run as a separate process by rotation-kill.test.ts: one registry instance whose scheduler runs
 * the due rotation with the real `postgresql` rotator, wrapped so the process kills itself
 * (SIGKILL) at the step boundary named on the command line. Prints `create` for each value made and
 * `tested <fingerprint>` for each pending value whose test succeeded (never the value itself); a
 * run that reaches its end instead prints `report <claimed> <rotated> <failed>` and exits 0.
 *
 * Arguments: `postgres <url>` or `pglite <dataDir>`, then the role prefix, the root key and the
 * kill point.
 */
import type { Logger } from '../../src/core/ports.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { assemble } from '../../src/main.js';
import { postgresqlRotator } from '../../src/rotators/postgresql.js';
import { testConfig } from './backends.js';
import { dyingRotator, fingerprint, type KillPoint } from './test-rotators.js';

const [store, where, prefix, rootKey, killAt] = process.argv.slice(2) as [
  'postgres' | 'pglite',
  string,
  string,
  string,
  KillPoint,
];
const say = (line: string) => process.stdout.write(`${line}\n`);
// Warnings and errors to stderr, so a run that failed instead of dying says why.
const logger: Logger = {
  info() {},
  warn: (obj, msg) => process.stderr.write(`warn ${msg ?? ''} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`error ${msg ?? ''} ${JSON.stringify(obj)}\n`),
};
const db =
  store === 'postgres'
    ? openPg({ connectionString: where, maxConnections: 2 })
    : await openPglite({ dataDir: where });
const registry = await assemble(db, {
  config: testConfig(prefix, rootKey),
  logger,
  rotators: [
    dyingRotator(postgresqlRotator, killAt, {
      created: () => say('create'),
      tested: (pending) => say(`tested ${fingerprint(pending)}`),
    }),
  ],
});
const r = await registry.rotateDue({ limit: 1 });
say(`report ${r.claimed} ${r.rotated} ${r.failed}`);
await registry.close();
