/**
 * How group commit forms batches (src/db/group-commit.ts), on a stand-in for the store's
 * transaction: sizes and concurrency are bounded, each caller is answered after its batch's
 * transaction and never before, and a failed batch fails or reruns its callers.
 */
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/core/errors.js';
import type { TenantTx } from '../../src/core/ports.js';
import { type BatchRunner, GroupCommit } from '../../src/db/group-commit.js';
import type { SqlClient } from '../../src/db/sql.js';

const TENANT = '01890000-0000-7000-8000-000000000001';
const OTHER = '01890000-0000-7000-8000-000000000002';
const noSql: SqlClient = { query: () => Promise.reject(new Error('no SQL in this test')) };

/** A runner whose transactions are counted, and end when the test says so. */
function standIn() {
  let running = 0;
  const seen = { transactions: 0, mostAtOnce: 0, tenants: [] as string[], alone: 0 };
  const gates: (() => void)[] = [];
  let failWith: unknown;
  const runner: BatchRunner = {
    async transaction(tenantId, fn) {
      seen.transactions++;
      seen.tenants.push(tenantId);
      running++;
      seen.mostAtOnce = Math.max(seen.mostAtOnce, running);
      try {
        const result = await fn(noSql);
        await new Promise<void>((resolve) => gates.push(resolve)); // the COMMIT, held
        if (failWith) throw failWith;
        return result;
      } finally {
        running--;
      }
    },
    async alone(_tenantId, work) {
      seen.alone++;
      return work({} as TenantTx);
    },
  };
  const commitAll = async () => {
    while (gates.length > 0) gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { runner, seen, commitAll, fail: (err: unknown) => (failWith = err) };
}

/** Settles `promises` by committing batches as they come, until all are answered. */
async function drain(s: ReturnType<typeof standIn>, promises: Promise<unknown>[]) {
  let done = false;
  const all = Promise.allSettled(promises).finally(() => (done = true));
  while (!done) await s.commitAll();
  return all;
}

describe('group commit batches', () => {
  it('bounds batch size and batches in flight per tenant, and answers every caller once', async () => {
    const s = standIn();
    const group = new GroupCommit(s.runner, { maxBatch: 10, maxInFlight: 2 });
    const calls = Array.from({ length: 95 }, (_, i) => group.submit(TENANT, async () => i));
    const results = await drain(s, calls);
    expect(results.map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 95 }, (_, i) => i),
    );
    const stats = group.stats();
    expect(stats.members).toBe(95);
    expect(Math.max(...Object.keys(stats.sizes).map(Number))).toBeLessThanOrEqual(10);
    expect(stats.batches).toBe(s.seen.transactions);
    expect(s.seen.mostAtOnce).toBeLessThanOrEqual(2);
  });

  it('a lone caller is not kept waiting for company: one transaction, one member', async () => {
    const s = standIn();
    const group = new GroupCommit(s.runner);
    const [r] = await drain(s, [group.submit(TENANT, async () => 'alone')]);
    expect(r).toEqual({ status: 'fulfilled', value: 'alone' });
    expect(group.stats()).toEqual({ batches: 1, members: 1, sizes: { 1: 1 } });
  });

  it('never puts two tenants in one batch', async () => {
    const s = standIn();
    const group = new GroupCommit(s.runner);
    await drain(s, [
      ...Array.from({ length: 5 }, () => group.submit(TENANT, async () => 'a')),
      ...Array.from({ length: 5 }, () => group.submit(OTHER, async () => 'b')),
    ]);
    expect(s.seen.tenants.sort()).toEqual([TENANT, OTHER].sort());
    expect(group.stats().sizes).toEqual({ 5: 2 });
  });

  it('answers no caller before its transaction has ended', async () => {
    const s = standIn();
    const group = new GroupCommit(s.runner);
    let answered = false;
    const call = group
      .submit(TENANT, async () => 'value')
      .then((v) => {
        answered = true;
        return v;
      });
    // Long enough for the batch to start and its work to finish: the COMMIT is still held.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(s.seen.transactions).toBe(1);
    expect(answered).toBe(false);
    await s.commitAll();
    await expect(call).resolves.toBe('value');
  });

  it('a batch the database could not commit fails every caller in it, with no value', async () => {
    const s = standIn();
    s.fail(new RegistryError('UNAVAILABLE', 'the database is unavailable; retry later'));
    const group = new GroupCommit(s.runner);
    const results = await drain(
      s,
      Array.from({ length: 4 }, () => group.submit(TENANT, async () => 'secret')),
    );
    expect(results.map((r) => r.status)).toEqual(Array(4).fill('rejected'));
    expect(results.map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      Array(4).fill('UNAVAILABLE'),
    );
    expect(s.seen.alone).toBe(0);
  });

  it('a batch that failed otherwise runs each caller again alone; one that failed on its own is not rerun', async () => {
    const s = standIn();
    s.fail(new RegistryError('INTERNAL', 'a row was refused'));
    const group = new GroupCommit(s.runner);
    const results = await drain(s, [
      group.submit(TENANT, async () => 'one'),
      group.submit(TENANT, async () => {
        throw new RegistryError('NOT_FOUND', 'its own failure');
      }),
      group.submit(TENANT, async () => 'three'),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'one' });
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('NOT_FOUND');
    expect(results[2]).toEqual({ status: 'fulfilled', value: 'three' });
    expect(s.seen.alone).toBe(2);
  });
});
