/**
 * A tenant's own audit sinks: http collectors a tenant admin adds for the tenant's rows, beside
 * the sinks the platform operator configures (see audit-sinks.ts). Tenant admins only, never a
 * vault-scoped token: a sink receives every row of the tenant's log. The URL passes the webhooks'
 * URL policy when added, and the SSRF-guarded client's checks at every connect.
 */
import { z } from 'zod';
import type { AuditSubject, Refusal, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid, newId } from './ids.js';
import type { TenantAuditSink } from './ports.js';
import type { RequestContext } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase, type UseCase } from './use-case.js';
import { uuid } from './validation.js';

/** The most sinks one tenant may add: each is a POST per batch of every pass. */
export const MAX_TENANT_SINKS = 5;

/** The cursor name of a tenant's own sink: cannot collide with an operator's (no `:` there). */
export const tenantSinkName = (id: string) => `tenant:${id}`;

const createInput = z.strictObject({ url: z.string().min(1).max(2048) });
const byId = z.strictObject({ id: uuid });

const notFound = () => new RegistryError('NOT_FOUND', 'audit sink not found');
const named = (raw: Readonly<Record<string, unknown>>): Partial<AuditSubject> =>
  isUuid(raw.id) ? { reason: `audit sink ${raw.id}` } : {};

/** Adds an http sink for the tenant's rows; it receives the whole log from the first row. */
export const createAuditSink = defineUseCase({
  action: 'audit_sink_create',
  capability: 'audit_sinks:manage',
  input: createInput,
  logs: 'every attempt',
  async body(op, { url }, { deps, ctx }): Promise<TenantAuditSink | Refusal> {
    // The gateway holds the URL policy; a registry built without one sends to no tenant's URL.
    if (!deps.webhooks)
      return op.refuse(new RegistryError('UNAVAILABLE', 'audit sinks are not configured on this server'));
    const refused = deps.webhooks.checkUrl(url);
    /* Precondition: the URL passes the webhooks' URL policy. */
    if (refused) return op.refuse(new RegistryError('VALIDATION', `url ${refused}`));
    /* Precondition: the tenant has fewer than MAX_TENANT_SINKS sinks. */
    if ((await op.tx.auditSinks.listSinks()).length >= MAX_TENANT_SINKS) {
      return op.refuse(
        new RegistryError(
          'CONFLICT',
          `a tenant may have at most ${MAX_TENANT_SINKS} audit sinks: delete one first`,
        ),
      );
    }
    const id = newId();
    op.note({ reason: `audit sink ${id}` });
    const sink = await op.tx.auditSinks.addSink({ id, url, createdBy: ctx.actor });
    await op.granted();
    return sink;
  },
});

export const listAuditSinks = defineUseCase({
  action: 'read',
  capability: 'audit_sinks:manage',
  input: z.strictObject({}),
  logs: 'refusals',
  async body(op): Promise<{ items: TenantAuditSink[] }> {
    return { items: await op.tx.auditSinks.listSinks() };
  },
});

/** Removes a sink: nothing more is sent to it. */
export const deleteAuditSink = defineUseCase({
  action: 'audit_sink_delete',
  capability: 'audit_sinks:manage',
  input: byId,
  logs: 'every attempt',
  names: named,
  async body(op, { id }): Promise<undefined | Refusal> {
    if (!(await op.tx.auditSinks.deleteSink(id))) return op.refuse(notFound());
    await op.granted();
    return undefined;
  },
});

/** A tenant's own audit sinks, as library calls; each runs one use-case above. */
export class AuditSinkService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  #run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: unknown): Promise<O> {
    return runUseCase(this.deps, this.tenantId, useCase, input, ctx);
  }

  /** @example const sink = await t.auditSinks.create({ url: 'https://siem.example.com/in' }, { actor: 'alice' }); */
  create(input: z.input<typeof createInput>, ctx: RequestContext): Promise<TenantAuditSink> {
    return this.#run(createAuditSink, input, ctx);
  }

  list(ctx: RequestContext = IN_PROCESS): Promise<{ items: TenantAuditSink[] }> {
    return this.#run(listAuditSinks, {}, ctx);
  }

  async delete(id: string, ctx: RequestContext): Promise<void> {
    await this.#run(deleteAuditSink, { id }, ctx);
  }
}
