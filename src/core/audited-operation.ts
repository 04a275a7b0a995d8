import type { AuditSinkWiring } from './audit-sinks.js';
import { type ErrorCode, isRegistryError, RegistryError } from './errors.js';
import type { EventType } from './events.js';
import { newId } from './ids.js';
import type {
  AccessLogInsert,
  AuditLogCrypto,
  Clock,
  Envelope,
  KeyContext,
  KeyRing,
  Logger,
  RegistryStore,
  TenantTx,
  VaultKey,
  VaultKeyRecord,
  WebhookGateway,
} from './ports.js';
import { keyContextName } from './ports.js';
import type { RotationObserver } from './rotation-observer.js';
import type { Rotator } from './rotator.js';
import type { AccessAction, AccessOutcome, RequestContext } from './types.js';
import { MAX_INT4, storableText } from './validation.js';

/** The message of the error thrown when an access-log row cannot be written (metrics count it). */
export const AUDIT_WRITE_FAILED = 'the access log could not be written, so the operation was not performed';

/** Everything the use-cases need, as ports. */
export interface RegistryDeps {
  store: RegistryStore;
  keyRing: KeyRing;
  envelope: Envelope;
  clock: Clock;
  logger: Logger;
  /** How webhooks reach their receivers; without it, subscribing is refused. (Default: none) */
  webhooks?: WebhookGateway;
  /** The rotators credentials may name, by type. (Default: none) */
  rotators?: ReadonlyMap<string, Rotator>;
  /** Told how each rotation run ended, for metrics (see rotation-observer.ts). (Default: none) */
  rotationObserver?: RotationObserver;
  /** The hashing and signing of the tenants' audit logs (see audit-log.ts). */
  auditLog: AuditLogCrypto;
  /** Where sealed access-log rows are streamed to (see audit-sinks.ts). (Default: none) */
  auditSinks?: AuditSinkWiring;
}

/** What one access-log row will say about the attempt; filled in as the operation learns more. */
export interface AuditSubject {
  action: AccessAction;
  credentialId?: string | null;
  vaultId?: string | null;
  reason?: string | null;
  version?: number | null;
}

const OUTCOME_OF: Partial<Record<ErrorCode, AccessOutcome>> = {
  NOT_FOUND: 'not_found',
  DELETED: 'not_found',
  VALIDATION: 'invalid',
  BAD_REQUEST: 'invalid',
  CONFLICT: 'conflict',
  VERSION_MISMATCH: 'conflict',
  EXPIRED: 'expired',
  INACTIVE: 'inactive',
  FORBIDDEN: 'denied',
};

export function outcomeOf(err: unknown): AccessOutcome {
  if (err instanceof RegistryError && scopeRefusals.has(err)) return 'denied';
  return err instanceof RegistryError ? outcomeOfCode(err.code) : 'error';
}

/** The access-log outcome an error code stands for. */
export function outcomeOfCode(code: ErrorCode): AccessOutcome {
  return OUTCOME_OF[code] ?? 'error';
}

/** The error code an access-log row records: a scope refusal is FORBIDDEN there, whatever it answered. */
function rowCodeOf(err: RegistryError): string {
  return scopeRefusals.has(err) ? 'FORBIDDEN' : err.code;
}

/** A refused attempt: its access-log row is written and must be committed before the error is thrown. */
export class Refusal {
  constructor(readonly error: RegistryError) {}
}

/** Thrown inside a transaction when a vault key must first be unwrapped (a slow call, never made in a transaction). */
class KeyNotCached extends Error {
  constructor(
    readonly context: KeyContext,
    /** The wrapped key when the body had it at hand; otherwise it is loaded before unwrapping. */
    readonly record?: VaultKeyRecord,
  ) {
    super('vault key not cached');
  }
}

/**
 * Thrown inside a transaction when slow work must be done outside it first (an OAuth refresh before
 * a reveal): the transaction is rolled back with no row, `work` runs, and the body runs again.
 */
class OutsideFirst extends Error {
  constructor(
    readonly key: string,
    readonly work: () => Promise<void>,
  ) {
    super(`${key} must run outside the transaction first`);
  }
}

/** The handle a use-case body gets: the transaction, its vault keys, and its access-log row. */
export class Operation {
  #logged = false;

  constructor(
    readonly tx: TenantTx,
    private readonly subject: AuditSubject,
    private readonly ctx: RequestContext,
    private readonly keys: (record: KeyContext) => VaultKey | undefined,
    private readonly clock: Clock,
    private readonly doneOutside: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * Has `work` done outside any transaction before the body goes on: the first time a call asks
   * for `key`, the transaction is abandoned (no row), `work` runs, and the body runs again from
   * the start; the second time, this returns and the body goes on whatever `work` achieved (a
   * failing `work` records its own failure). So the body must not have written anything before.
   */
  outsideFirst(key: string, work: () => Promise<void>): void {
    if (!this.doneOutside.has(key)) throw new OutsideFirst(key, work);
  }

  /** Adds what the body learnt (the vault of a credential, the version revealed) to the log row. */
  note(extra: Partial<AuditSubject>): void {
    Object.assign(this.subject, extra);
  }

  /**
   * A cached vault key, synchronously. On a miss the transaction is abandoned, the key unwrapped
   * outside it, and the body run again from the start.
   */
  key(context: KeyContext | VaultKeyRecord): VaultKey {
    const key = this.keys(context);
    if (!key) throw new KeyNotCached(context, 'wrapped' in context ? context : undefined);
    return key;
  }

  /** Writes the success row. Call it last, after every check, before returning anything secret. */
  async granted(extra: Partial<AuditSubject> = {}): Promise<void> {
    this.note(extra);
    await this.log('granted', null);
    this.#logged = true;
  }

  /** Whether the success row has been written. */
  get logged(): boolean {
    return this.#logged;
  }

  /**
   * For a vault-scoped caller reaching outside its vault: the refusal (row written) that answers
   * as `missing` does, to be returned. Null when the vault is in scope.
   */
  async outside(vaultId: string, missing: () => RegistryError): Promise<Refusal | null> {
    const denied = outOfScope(this.ctx, vaultId, missing);
    return denied ? this.refuse(denied) : null;
  }

  /** Writes a refusal row and returns what the body must return (not throw) so the row commits. */
  async refuse(error: RegistryError, extra: Partial<AuditSubject> = {}): Promise<Refusal> {
    this.note(extra);
    await this.log(outcomeOf(error), rowCodeOf(error));
    return new Refusal(error);
  }

  /**
   * Records an event in the outbox, in this transaction: it commits with the change or not at all,
   * and so do its deliveries, one per enabled subscription that takes its type (`to` one
   * subscription only, for a test message). `data` holds ids and metadata, never a value; the
   * tenant's id is added. Returns the event's id.
   */
  async emit(
    type: EventType,
    data: Record<string, unknown>,
    to?: { subscriptionId: string },
  ): Promise<string> {
    const id = newId();
    await this.tx.events.append(
      { id, type, data: { tenantId: this.tx.tenantId, ...data }, createdAt: this.clock.now() },
      to,
    );
    return id;
  }

  /** Extra rows in the same transaction (e.g. the key destroyed with a vault). */
  async also(action: AccessAction, extra: Partial<AuditSubject> = {}): Promise<void> {
    await append(this.tx, { ...this.subject, ...extra, action }, this.ctx, 'granted', null);
  }

  private async log(outcome: AccessOutcome, errorCode: string | null): Promise<void> {
    await append(this.tx, this.subject, this.ctx, outcome, errorCode);
  }
}

async function append(
  tx: TenantTx,
  s: AuditSubject,
  ctx: RequestContext,
  outcome: AccessOutcome,
  errorCode: string | null,
): Promise<void> {
  const row: AccessLogInsert = {
    action: s.action,
    outcome,
    credentialId: s.credentialId ?? null,
    vaultId: s.vaultId ?? null,
    // A refusal's row records what the caller sent, even text SQL could not store (cut, replaced).
    reason: s.reason == null ? null : storableText(s.reason, 1000),
    version: safeVersion(s.version),
    actor: ctx.actor,
    sourceIp: ctx.sourceIp ?? null,
    userAgent: ctx.userAgent ?? null,
    requestId: ctx.requestId ?? null,
    clientRequestId: ctx.clientRequestId ?? null,
    errorCode,
  };
  try {
    await tx.accessLog.append(row);
  } catch (err) {
    // Fail closed: without its log row an operation does not happen, and a value is not revealed.
    throw new RegistryError('AUDIT_UNAVAILABLE', AUDIT_WRITE_FAILED, { cause: err });
  }
}

/**
 * Runs one audited use-case in a tenant transaction.
 *
 * - The body writes its own row (`granted`, or `refuse` which is returned): it commits with the work.
 * - If the body needs a vault key that is not cached, the transaction is rolled back, the key is
 *   unwrapped outside any transaction, and the body runs again.
 * - If anything else throws, the transaction rolls back and a failure row is written in a new one.
 * - `shared`: the body only reads and writes its row, so it may share its transaction with other
 *   callers of the tenant (`RegistryStore.withTenantShared`, group commit).
 */
export async function audited<T>(
  deps: RegistryDeps,
  tenantId: string,
  ctx: RequestContext,
  subject: AuditSubject,
  body: (op: Operation) => Promise<T | Refusal>,
  options: { shared?: boolean } = {},
): Promise<T> {
  const store = deps.store;
  const inTenant =
    options.shared && store.withTenantShared
      ? <R>(fn: (tx: TenantTx) => Promise<R>) => store.withTenantShared!(tenantId, fn)
      : <R>(fn: (tx: TenantTx) => Promise<R>) => store.withTenant(tenantId, fn);
  // Every key this call uses is a private copy pinned here, zeroed when the call ends: the shared
  // cache zeroes its own copy whenever it lets go of it (eviction, expiry, a concurrent rotation),
  // which may happen at any await of the body.
  const pinned = new Map<string, VaultKey>();
  const keys = (c: KeyContext) => {
    const held = pinned.get(keyContextName(c));
    if (held) return held;
    const shared = deps.keyRing.cached(c);
    if (!shared) return undefined;
    const copy = { ...shared, material: Buffer.from(shared.material) };
    pinned.set(keyContextName(c), copy);
    return copy;
  };
  const doneOutside = new Set<string>();
  try {
    for (let attempt = 0; ; attempt++) {
      let result: T | Refusal;
      try {
        result = await inTenant((tx) => body(new Operation(tx, subject, ctx, keys, deps.clock, doneOutside)));
      } catch (err) {
        if (err instanceof OutsideFirst && !doneOutside.has(err.key)) {
          doneOutside.add(err.key);
          try {
            await err.work();
          } catch (workError) {
            // The body runs again and decides without it; the work's own use-cases logged why.
            deps.logger.warn(
              { tenantId, work: err.key, error: describeError(workError) },
              'work before an operation failed',
            );
          }
          continue;
        }
        if (err instanceof KeyNotCached && attempt < 3) {
          // A concurrent caller may have unwrapped it meanwhile: then there is nothing to load.
          if (keys(err.context)) continue;
          try {
            const record =
              err.record ??
              (await deps.store.withTenant(tenantId, (tx) =>
                tx.vaultKeys.find(err.context.vaultId, err.context.vaultKeyVersion),
              ));
            // A key that vanished meanwhile (vault deleted): the next attempt refuses on its own.
            if (record) {
              const key = await deps.keyRing.unwrap(record); // already a private copy
              pinned.set(keyContextName(key), key);
            }
          } catch (unwrapError) {
            const failure = asRegistryError(unwrapError);
            await auditFailure(deps, tenantId, ctx, subject, failure);
            throw failure;
          }
          continue;
        }
        const failure =
          err instanceof KeyNotCached
            ? new RegistryError('UNAVAILABLE', 'the vault key changed repeatedly during the operation; retry')
            : asRegistryError(err);
        await auditFailure(deps, tenantId, ctx, subject, failure);
        throw failure;
      }
      if (result instanceof Refusal) throw result.error;
      return result;
    }
  } finally {
    for (const key of pinned.values()) (key.material as Buffer).fill(0);
  }
}

/** The core promises RegistryErrors only; anything else is a bug, reported as INTERNAL. */
export function asRegistryError(err: unknown): RegistryError {
  return err instanceof RegistryError ? err : new RegistryError('INTERNAL', 'internal error', { cause: err });
}

/**
 * Records a failed attempt in its own transaction. Best effort: when even that fails (database
 * down, access log unwritable) the caller still gets the original error, and operators a log line.
 */
export async function auditFailure(
  deps: RegistryDeps,
  tenantId: string,
  ctx: RequestContext,
  subject: AuditSubject,
  err: unknown,
): Promise<void> {
  if (err instanceof RegistryError && err.code === 'TENANT_REQUIRED') return; // no tenant to log under
  const code = err instanceof RegistryError ? rowCodeOf(err) : 'INTERNAL';
  try {
    try {
      await deps.store.withTenant(tenantId, (tx) => append(tx, subject, ctx, outcomeOf(err), code));
    } catch (first) {
      // Only when the database refused the row itself (text or a number its column cannot hold,
      // reported by the store as INTERNAL), not when it is away: the attempt is still recorded,
      // with what the caller typed replaced by a marker.
      if (!isRegistryError(first, 'AUDIT_UNAVAILABLE') || !isRegistryError(first.cause, 'INTERNAL'))
        throw first;
      const masked = { ...subject, reason: subject.reason == null ? null : UNREPRESENTABLE };
      const { userAgent: _u, clientRequestId: _c, ...plain } = ctx;
      await deps.store.withTenant(tenantId, (tx) => append(tx, masked, plain, outcomeOf(err), code));
    }
  } catch (logError) {
    deps.logger.error(
      {
        tenantId,
        action: subject.action,
        credentialId: subject.credentialId ?? null,
        code,
        logError: describeError(logError),
      },
      'could not record a failed attempt in the access log',
    );
  }
}

/** What a failure row says in place of caller text its column could not hold. */
const UNREPRESENTABLE = '[unrepresentable input]';

const safeVersion = (v: number | null | undefined) =>
  v != null && Number.isInteger(v) && v >= 1 && v <= MAX_INT4 ? v : null;

/** An error's code and message only: a database error's other fields can quote row data. */
export function describeError(err: unknown): { code?: string; message: string } {
  if (err instanceof RegistryError) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? err) };
}

/**
 * Refusals for vault scope. They answer exactly as a missing id does (same code, same message),
 * so a vault-scoped token cannot tell which ids exist in its tenant's other vaults; only the
 * access-log row says what happened (`denied`, FORBIDDEN).
 */
const scopeRefusals = new WeakSet<RegistryError>();

/**
 * When a vault-scoped call reaches outside its vault: the error `missing` makes (what the same call
 * answers for an id that does not exist), marked as a scope refusal. Null when it may go on.
 */
export function outOfScope(
  ctx: RequestContext,
  vaultId: string,
  missing: () => RegistryError,
): RegistryError | null {
  if (!ctx.vaultScope || ctx.vaultScope === vaultId) return null;
  const err = missing();
  scopeRefusals.add(err);
  return err;
}
