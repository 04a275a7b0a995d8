/**
 * Run as a separate process by rotation-multi-instance.test.ts: one registry instance (its own
 * pool) running the rotation scheduler as fast as it can, with `loops` concurrent callers of
 * `rotateDue`, until "stop" arrives on stdin. Prints `ready` once assembled, `create <credentialId>`
 * for each value the counting rotator makes, and `report <claimed> <rotated> <failed>` for each
 * call that claimed anything.
 */
import { createInterface } from 'node:readline';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble } from '../../src/main.js';
import { silentLogger, testConfig } from './backends.js';
import { countingRotator } from './test-rotators.js';

const [url, prefix, rootKey, loops, limit] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const db = openPg({ connectionString: url, maxConnections: 5 });
const registry = await assemble(db, {
  config: testConfig(prefix, rootKey),
  logger: silentLogger,
  rotators: [countingRotator((ctx) => process.stdout.write(`create ${ctx.credentialId}\n`))],
});

let stopping = false;
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'stop') stopping = true;
});

async function loop() {
  while (!stopping) {
    const r = await registry.rotateDue({ limit: Number(limit) });
    if (r.claimed > 0) process.stdout.write(`report ${r.claimed} ${r.rotated} ${r.failed}\n`);
    // A scheduler's tick: poll again soon when nothing was due.
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: Number(loops) }, loop));
input.close();
process.stdin.destroy();
await registry.close();
process.stdout.write('done\n');
