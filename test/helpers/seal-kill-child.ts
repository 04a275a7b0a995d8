/**
 * Run as a separate process by audit-seal-kill.test.ts: one registry instance that seals the audit
 * log in batches of `batchSize`, and kills itself (SIGKILL) in the middle of batch `dieInBatch`:
 * after its leaves and nodes were sent, before the tree's state moves and the batch commits.
 * Prints `batch <n>` as each batch reaches that point.
 *
 * Arguments: `postgres <url>` or `pglite <dataDir>`, then the role prefix, the root key, the batch
 * size and the batch to die in (from 1).
 */

import { openPg } from '../../src/db/pg-adapter.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import type { SqlClient, SqlDatabase } from '../../src/db/sql.js';
import { assemble } from '../../src/main.js';
import { silentLogger, testConfig } from './backends.js';
import { wrapTransactions } from './wrap-db.js';

const [store, where, prefix, rootKey, batchSize, dieInBatch] = process.argv.slice(2) as [
  'postgres' | 'pglite',
  string,
  string,
  string,
  string,
  string,
];
let batches = 0;
const dying = (c: SqlClient): SqlClient => ({
  async query(text, params) {
    // The batch's last statement: the leaves and nodes before it are written, not yet committed.
    if (text.includes('UPDATE audit_log_state SET tree_size')) {
      batches++;
      process.stdout.write(`batch ${batches}\n`);
      if (batches === Number(dieInBatch)) {
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      }
    }
    return c.query(text, params);
  },
});
const opened: SqlDatabase =
  store === 'postgres'
    ? openPg({ connectionString: where, maxConnections: 2 })
    : await openPglite({ dataDir: where });
const db = wrapTransactions(opened, dying);
const registry = await assemble(db, { config: testConfig(prefix, rootKey), logger: silentLogger });
for (;;) {
  const report = await registry.sealAuditLogs({ batchSize: Number(batchSize) });
  if (report.sealed === 0) break;
}
process.stdout.write('done\n');
await registry.close();
