import type { z } from 'zod';
import {
  type AuditSubject,
  audited,
  auditFailure,
  type Operation,
  outOfScope,
  Refusal,
  type RegistryDeps,
} from './audited-operation.js';
import { type Capability, refusal } from './authorization.js';
import { RegistryError } from './errors.js';
import type { AccessAction, RequestContext } from './types.js';
import { parse, requestContext } from './validation.js';

/** What a use-case body is given besides its transaction: who asks, in which tenant, with what. */
export interface UseCaseEnv {
  readonly deps: RegistryDeps;
  readonly tenantId: string;
  readonly ctx: RequestContext;
}

/**
 * One tenant use-case, declared. The runner (`runUseCase`) does, in this order, what every
 * use-case needs and none writes by hand:
 * 1. parses the caller's context;
 * 2. checks the caller's role and vault scope allow `capability` (`authorization.ts`);
 * 3. parses the input with `input` (unknown fields refused);
 * 4. checks the vault the input names (`vault`) against the caller's vault scope;
 * 5. runs `prepare` (slow calls, such as the root key provider, made outside any transaction);
 * 6. runs `body` in a tenant transaction, with the access-log row written in it;
 * 7. runs `after` once that transaction has committed.
 * A refusal or failure at any step leaves one access-log row (see `audited-operation.ts`).
 */
export interface UseCase<S extends z.ZodType, P, O> {
  /** What its access-log rows are recorded as. */
  readonly action: AccessAction;
  readonly capability: Capability;
  /** The input, as the caller gives it (the library's arguments, an HTTP request's params and body). */
  readonly input: S;
  /**
   * `every attempt`: the body must write the success row (`op.granted()`), or the runner fails the
   * call. `refusals`: reads, whose successes are not logged, only their refusals and failures.
   */
  readonly logs: 'every attempt' | 'refusals';
  /**
   * The credential, vault or version an attempt names, read from the raw input: what its row says
   * even when the input is refused. Each field must be checked here (a well-formed id or nothing).
   */
  readonly names?: (raw: Readonly<Record<string, unknown>>) => Partial<AuditSubject>;
  /**
   * The vault the parsed input names, checked against a vault-scoped caller's vault before the work;
   * undefined when the input names it by name, which the body resolves and checks (`op.outside`).
   */
  readonly vault?: (input: z.output<S>) => string | undefined;
  /** What a missing id answers; a vault outside the caller's scope answers exactly the same. */
  readonly missing?: () => RegistryError;
  /**
   * The body only reads and writes its own access-log rows (a reveal), so concurrent calls of one
   * tenant may share a transaction (group commit, see `RegistryStore.withTenantShared`). Its
   * result still waits for the commit of its row.
   */
  readonly groupCommit?: boolean;
  readonly prepare?: (input: z.output<S>, env: UseCaseEnv) => Promise<P>;
  readonly body: (
    op: Operation,
    input: z.output<S>,
    env: UseCaseEnv & { prepared: P },
  ) => Promise<O | Refusal>;
  /** Told when the transaction failed after `prepare` succeeded, e.g. to drop what it cached. */
  readonly abandon?: (prepared: P, env: UseCaseEnv) => void;
  readonly after?: (output: O, input: z.output<S>, env: UseCaseEnv) => void;
}

/** Declares a use-case (an identity function that lets TypeScript infer its types). */
export function defineUseCase<S extends z.ZodType, P = undefined, O = unknown>(
  useCase: UseCase<S, P, O>,
): UseCase<S, P, O> {
  return Object.freeze(useCase);
}

/** Any use-case, as the HTTP layer declares which one a route calls. */
// biome-ignore lint/suspicious/noExplicitAny: a route may name a use-case of any shape
export type AnyUseCase = UseCase<any, any, any>;

/** The library's in-process caller, for reads made without a context. */
export const IN_PROCESS: RequestContext = Object.freeze({ actor: '(in-process)' });

/** Recorded as the actor when the request context itself is invalid (no actor given). */
const UNIDENTIFIED: RequestContext = Object.freeze({ actor: '(unidentified)' });

const asRecord = (raw: unknown): Readonly<Record<string, unknown>> =>
  raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};

/**
 * The row's subject from the raw input: only fields the use-case's input declares are read, so a
 * caller cannot make a refusal's row name a resource (or give a reason) the use-case does not take;
 * a `names` that throws on hostile input names nothing.
 */
function subjectOf(useCase: AnyUseCase, raw: unknown): AuditSubject {
  const given = asRecord(raw);
  const declared = inputKeys(useCase.input);
  const own = declared ? Object.fromEntries(Object.entries(given).filter(([k]) => declared.has(k))) : given;
  let named: Partial<AuditSubject> = {};
  try {
    named = useCase.names?.(own) ?? {};
  } catch {
    // Best effort by definition: the row is still written, naming less.
  }
  return { ...named, action: useCase.action };
}

/** The field names an input schema declares (an object schema, possibly refined), or null. */
const inputKeys = (schema: object): Set<string> | null => {
  if (declaredKeys.has(schema)) return declaredKeys.get(schema)!;
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  const keys = shape && typeof shape === 'object' ? new Set(Object.keys(shape)) : null;
  declaredKeys.set(schema, keys);
  return keys;
};
/** Per schema, once: `subjectOf` runs twice on every call, the reveal path included. */
const declaredKeys = new WeakMap<object, Set<string> | null>();

/** Steps 1 and 2: the context, and whether it may use the use-case at all. */
function admit(useCase: AnyUseCase, rawCtx: unknown): RequestContext {
  const ctx = parse(requestContext, rawCtx);
  const denied = refusal(ctx, useCase.capability, useCase.action);
  if (denied) throw Object.assign(denied, { [ADMITTED_AS]: ctx });
  return ctx;
}
/** The parsed context a refusal of step 2 carries, so its row names the real actor. */
const ADMITTED_AS = Symbol('admitted as');
const contextOf = (err: unknown): RequestContext | undefined =>
  (err as { [ADMITTED_AS]?: RequestContext } | null)?.[ADMITTED_AS];

/**
 * Runs a use-case for one tenant. `raw` is its input as the caller gave it, `rawCtx` who asks;
 * both are parsed here, never trusted.
 */
export async function runUseCase<S extends z.ZodType, P, O>(
  deps: RegistryDeps,
  tenantId: string,
  useCase: UseCase<S, P, O>,
  raw: unknown,
  rawCtx: unknown,
): Promise<O> {
  let subject = subjectOf(useCase as AnyUseCase, raw);
  let ctx = UNIDENTIFIED;
  let input: z.output<S>;
  try {
    ctx = admit(useCase as AnyUseCase, rawCtx);
    input = parse(useCase.input, raw);
    // The parsed input names the same things, now known to be well formed.
    subject = subjectOf(useCase as AnyUseCase, input);
    const vaultId = useCase.vault?.(input);
    const denied = vaultId ? outOfScope(ctx, vaultId, useCase.missing ?? notFound) : null;
    if (denied) throw denied;
  } catch (err) {
    await auditFailure(deps, tenantId, contextOf(err) ?? ctx, subject, err);
    throw err;
  }
  const env: UseCaseEnv = { deps, tenantId, ctx };
  let prepared = undefined as P;
  if (useCase.prepare) {
    try {
      prepared = await useCase.prepare(input, env);
    } catch (err) {
      await auditFailure(deps, tenantId, ctx, subject, err);
      throw err;
    }
  }
  let output: O;
  try {
    output = await audited(
      deps,
      tenantId,
      ctx,
      subject,
      async (op) => {
        const result = await useCase.body(op, input, { ...env, prepared });
        /* Precondition: a use-case that logs every attempt has written its success row. */
        if (useCase.logs === 'every attempt' && !(result instanceof Refusal) && !op.logged) {
          throw new RegistryError(
            'INTERNAL',
            `use-case ${useCase.action} returned without its access-log row`,
          );
        }
        return result;
      },
      { shared: useCase.groupCommit === true },
    );
  } catch (err) {
    if (useCase.prepare) useCase.abandon?.(prepared, env);
    throw err;
  }
  useCase.after?.(output, input, env);
  return output;
}

/**
 * Records an attempt refused before its use-case could run (the HTTP layer refused its input, say)
 * and returns the error to answer. A caller whose role or scope does not allow the use-case is told
 * that instead, and the row says so: what a caller may not do is checked before what it sent.
 */
export async function refuseUseCase(
  deps: RegistryDeps,
  tenantId: string,
  useCase: AnyUseCase,
  raw: unknown,
  rawCtx: unknown,
  error: RegistryError,
): Promise<RegistryError> {
  const subject = subjectOf(useCase, raw);
  let ctx = UNIDENTIFIED;
  let answer = error;
  try {
    ctx = admit(useCase, rawCtx);
  } catch (err) {
    ctx = contextOf(err) ?? ctx;
    if (err instanceof RegistryError && err.code === 'FORBIDDEN') answer = err;
  }
  await auditFailure(deps, tenantId, ctx, subject, answer);
  return answer;
}

const notFound = () => new RegistryError('NOT_FOUND', 'not found');
