/**
 * Group commit: concurrent reveals of one tenant share one transaction, so a batch of them pays
 * for one BEGIN, one select, one multi-row access-log insert and one COMMIT, where each alone
 * would pay for all four. What it must keep:
 *
 * - A caller is answered only after the transaction holding its row has committed.
 * - A batch never mixes tenants: it runs under one tenant's setting and row-level security, as
 *   the runtime role, exactly as `withTenant` does.
 * - A caller whose work fails leaves nothing in the batch (its rows were only buffered). When the
 *   batch itself fails, every caller in it fails if the database is away (no value leaves), and
 *   otherwise each runs again alone, so one caller's bad row (or failed statement, which aborts
 *   the transaction for all) cannot fail the others.
 * - Latency alone does not grow: a batch starts at the next turn of the event loop, and while
 *   fewer than `maxInFlight` batches of the tenant are running, nobody waits for anybody.
 */
import { AUDIT_WRITE_FAILED } from '../core/audited-operation.js';
import { isRegistryError, RegistryError } from '../core/errors.js';
import type { AccessLogInsert, SealedCredential, TenantTx } from '../core/ports.js';
import { translate } from './error-translation.js';
import { SqlAccessLogRepository } from './repositories/access-log-repository.js';
import { SqlCredentialRepository } from './repositories/credential-repository.js';
import { SqlTenantTx } from './repositories/tenant-tx.js';
import type { SqlClient } from './sql.js';

export interface GroupCommitOptions {
  /** Most callers in one batch. (Default: 64) */
  maxBatch?: number;
  /**
   * Most batches of one tenant running at once. More overlaps one batch's round trips with the
   * next one's work in Node; fewer makes batches larger. (Default: 4)
   */
  maxInFlight?: number;
}

/** Since start-up: batches run, callers in them, and how many batches had each size. */
export interface GroupCommitStats {
  batches: number;
  members: number;
  sizes: Record<number, number>;
}

/** What a batch runs on: the store's tenant transaction, and the same work alone. */
export interface BatchRunner {
  /** One transaction as the runtime role with the tenant set (what `withTenant` opens). */
  transaction<T>(tenantId: string, fn: (c: SqlClient) => Promise<T>): Promise<T>;
  /** The work alone in a transaction of its own (`withTenant`). */
  alone<T>(tenantId: string, work: (tx: TenantTx) => Promise<T>): Promise<T>;
}

type Work = (tx: TenantTx) => Promise<unknown>;

interface Member {
  work: Work;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/** One tenant's callers waiting for a batch, and its batches running. */
interface Lane {
  waiting: Member[];
  inFlight: number;
  scheduled: boolean;
}

export class GroupCommit {
  readonly #runner: BatchRunner;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  /** Only tenants with callers waiting or batches running: an idle tenant costs nothing. */
  readonly #lanes = new Map<string, Lane>();
  readonly #stats: GroupCommitStats = { batches: 0, members: 0, sizes: {} };

  constructor(runner: BatchRunner, options: GroupCommitOptions = {}) {
    this.#runner = runner;
    this.#maxBatch = options.maxBatch ?? 64;
    this.#maxInFlight = options.maxInFlight ?? 4;
  }

  /**
   * Runs `work` in a transaction it may share with other callers of `tenantId`. It may read with
   * any repository and append access-log rows, nothing else (a write is refused as INTERNAL); it
   * may be run a second time, alone, if its batch fails.
   */
  submit<T>(tenantId: string, work: (tx: TenantTx) => Promise<T>): Promise<T> {
    let lane = this.#lanes.get(tenantId);
    if (!lane) {
      lane = { waiting: [], inFlight: 0, scheduled: false };
      this.#lanes.set(tenantId, lane);
    }
    const answer = new Promise<T>((resolve, reject) =>
      lane.waiting.push({ work, resolve: resolve as (v: unknown) => void, reject }),
    );
    if (!lane.scheduled && lane.inFlight < this.#maxInFlight) {
      lane.scheduled = true;
      // setImmediate, not a microtask: callers arriving in the same turn (requests read from
      // several sockets in one poll) share the batch.
      setImmediate(() => {
        lane.scheduled = false;
        this.#dispatch(tenantId, lane);
      });
    }
    return answer;
  }

  stats(): Readonly<GroupCommitStats> {
    return { ...this.#stats, sizes: { ...this.#stats.sizes } };
  }

  #dispatch(tenantId: string, lane: Lane): void {
    while (lane.inFlight < this.#maxInFlight && lane.waiting.length > 0) {
      const members = lane.waiting.splice(0, this.#maxBatch);
      lane.inFlight++;
      this.#stats.batches++;
      this.#stats.members += members.length;
      this.#stats.sizes[members.length] = (this.#stats.sizes[members.length] ?? 0) + 1;
      void this.#runBatch(tenantId, members).finally(() => {
        lane.inFlight--;
        if (lane.waiting.length > 0) this.#dispatch(tenantId, lane);
        else if (lane.inFlight === 0 && !lane.scheduled) this.#lanes.delete(tenantId);
      });
    }
  }

  /** Settles every member, whatever happens: it never rejects. */
  async #runBatch(tenantId: string, members: Member[]): Promise<void> {
    let done = new Map<Member, { value: unknown } | { error: unknown }>();
    try {
      await this.#runner.transaction(tenantId, async (c) => {
        done = new Map(); // run again on a fresh connection when the first one was dead at BEGIN
        const reads = new SealedReads(new SqlCredentialRepository(c, tenantId));
        const settled = await Promise.allSettled(
          members.map(async (m) => {
            const tx = new SharedTenantTx(readOnly(c), tenantId, reads);
            const value = await m.work(tx);
            return { value, rows: tx.rows };
          }),
        );
        const rows: AccessLogInsert[] = [];
        settled.forEach((s, i) => {
          // A member that failed wrote nothing: its rows were only buffered, and are dropped.
          if (s.status === 'rejected') done.set(members[i]!, { error: s.reason });
          else {
            done.set(members[i]!, { value: s.value.value });
            rows.push(...s.value.rows);
          }
        });
        // The last statement: with its COMMIT in one round trip where the driver can.
        const last: SqlClient = { query: (text, params) => (c.finalQuery ?? c.query)(text, params) };
        if (rows.length > 0) await appendRows(new SqlAccessLogRepository(last, tenantId), rows);
      });
    } catch (err) {
      if (isRegistryError(err, 'UNAVAILABLE') || isRegistryError(err, 'AUDIT_UNAVAILABLE')) {
        // The database went away: whatever each member met, this is what it must be told.
        for (const m of members) m.reject(err);
        return;
      }
      // Not the database going away: one member's row (or read) may be what failed, so each that
      // succeeded runs again alone, and only the guilty one fails.
      await Promise.all(
        members.map((m) => {
          const outcome = done.get(m);
          if (outcome && 'error' in outcome && !fromDatabase(outcome.error)) return m.reject(outcome.error);
          return this.#alone(tenantId, m);
        }),
      );
      return;
    }
    // Committed: now, and only now, the values may leave. A member that met a database error may
    // have met another member's (a failed statement aborts the transaction for all): alone, it
    // meets only its own.
    await Promise.all(
      [...done].map(([m, outcome]) => {
        if (!('error' in outcome)) return m.resolve(outcome.value);
        if (fromDatabase(outcome.error)) return this.#alone(tenantId, m);
        return m.reject(outcome.error);
      }),
    );
  }

  #alone(tenantId: string, m: Member): Promise<void> {
    return this.#runner.alone(tenantId, m.work).then(m.resolve, m.reject);
  }
}

/** A database's error, not one the body made (a refusal, a key to unwrap first): `translate` knows it. */
const fromDatabase = (err: unknown) => translate(err) !== err;

/** The batch's rows in one insert, failing as one `append` would (see `audited-operation.ts`). */
async function appendRows(log: SqlAccessLogRepository, rows: AccessLogInsert[]): Promise<void> {
  try {
    await log.appendMany(rows);
  } catch (err) {
    if (isRegistryError(err, 'UNAVAILABLE')) {
      throw new RegistryError('AUDIT_UNAVAILABLE', AUDIT_WRITE_FAILED, { cause: err });
    }
    throw err;
  }
}

/**
 * A plain read, not a locking one. A write from a member would commit or roll back with callers
 * it knows nothing of, so the shared transaction refuses it before it reaches the database.
 */
const READ_ONLY = /^\s*SELECT\b(?![\s\S]*\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b)/i;

function readOnly(c: SqlClient): SqlClient {
  return {
    query: (text, params) =>
      READ_ONLY.test(text)
        ? c.query(text, params)
        : Promise.reject(
            new RegistryError('INTERNAL', 'a shared transaction only reads and appends its rows'),
          ),
  };
}

/**
 * The members' `findSealed` calls made in one turn, as one statement: the members start together,
 * so their reads of the same step arrive together.
 */
class SealedReads {
  readonly #repo: SqlCredentialRepository;
  #pending: {
    key: { id: string; version?: number | undefined };
    resolve(found: SealedCredential | null): void;
    reject(reason: unknown): void;
  }[] = [];

  constructor(repo: SqlCredentialRepository) {
    this.#repo = repo;
  }

  find(id: string, version?: number): Promise<SealedCredential | null> {
    return new Promise((resolve, reject) => {
      // process.nextTick runs once the microtasks queued now have run: every member still working
      // without a round trip reaches its read first.
      if (this.#pending.push({ key: { id, version }, resolve, reject }) === 1) {
        process.nextTick(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    try {
      const found = await this.#repo.findSealedMany(batch.map((p) => p.key));
      batch.forEach((p, i) => {
        p.resolve(found[i] ?? null);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

/** A member's view of the shared transaction: batched reveal reads, and rows kept until commit. */
class SharedTenantTx extends SqlTenantTx {
  readonly rows: AccessLogInsert[] = [];
  readonly #reads: SealedReads;
  #credentials?: SqlCredentialRepository;
  #accessLog?: SqlAccessLogRepository;

  constructor(c: SqlClient, tenantId: string, reads: SealedReads) {
    super(c, tenantId);
    this.#reads = reads;
  }

  override get credentials() {
    this.#credentials ??= new BatchedCredentials(this.c, this.tenantId, this.#reads);
    return this.#credentials;
  }

  override get accessLog() {
    this.#accessLog ??= new BufferedAccessLog(this.c, this.tenantId, this.rows);
    return this.#accessLog;
  }
}

class BatchedCredentials extends SqlCredentialRepository {
  constructor(
    c: SqlClient,
    tenantId: string,
    private readonly reads: SealedReads,
  ) {
    super(c, tenantId);
  }

  override findSealed(id: string, version?: number) {
    return this.reads.find(id, version);
  }
}

class BufferedAccessLog extends SqlAccessLogRepository {
  constructor(
    c: SqlClient,
    tenantId: string,
    private readonly rows: AccessLogInsert[],
  ) {
    super(c, tenantId);
  }

  override async append(entry: AccessLogInsert) {
    this.rows.push(entry);
  }
}
