/**
 * Run as a separate process by key-rotation-kill.test.ts: re-wraps one vault in small batches,
 * printing a line per committed batch, until it is killed.
 */
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble } from '../../src/main.js';
import { silentLogger, testConfig } from './backends.js';

const [url, prefix, rootKey, tenantId, vaultId] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const db = openPg({ connectionString: url });
const registry = await assemble(db, { config: testConfig(prefix, rootKey), logger: silentLogger });
const vaults = registry.forTenant(tenantId).vaults;
for (;;) {
  const { rewrapped, remaining } = await vaults.rewrap(
    vaultId,
    { batchSize: 5, maxBatches: 1 },
    { actor: 'child' },
  );
  process.stdout.write(`batch ${rewrapped} ${remaining}\n`);
  if (remaining === 0) break;
}
await registry.close();
