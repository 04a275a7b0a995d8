import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Refusal, RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import { isUuid, newId } from './ids.js';
import { decodeIdCursor, encodeIdCursor, type PageOptions, pageOptions, toPage } from './pagination.js';
import { principalInput } from './principal-service.js';
import type { ApiToken, Caller, Page, RequestContext, Role } from './types.js';
import { ROLES } from './types.js';
import { defineUseCase, IN_PROCESS, runUseCase } from './use-case.js';
import { timestamp, uuid } from './validation.js';

/** 256 bits of secret per token. */
const SECRET_BYTES = 32;
const hex = (id: string) => id.replaceAll('-', '');
const uuidFromHex = (h: string) =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
const TENANT_TOKEN = /^crt\.([0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;
const PLATFORM_TOKEN = /^crp\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

export type ParsedToken =
  | { kind: 'tenant'; tenantId: string; id: string; secret: string }
  | { kind: 'platform'; id: string; secret: string };

/**
 * `crt.<tenant>.<id>.<secret>` or `crp.<id>.<secret>`. The public part names the row to check, so
 * verification is one lookup by primary key in the tenant the token names (nothing is trusted
 * until the secret's hash matches).
 */
export function parseToken(token: string): ParsedToken | null {
  const t = TENANT_TOKEN.exec(token);
  if (t) return { kind: 'tenant', tenantId: uuidFromHex(t[1]!), id: uuidFromHex(t[2]!), secret: t[3]! };
  const p = PLATFORM_TOKEN.exec(token);
  if (p) return { kind: 'platform', id: uuidFromHex(p[1]!), secret: p[2]! };
  return null;
}

function mint(prefix: string): { secret: string; hash: Buffer } {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { secret: `${prefix}.${secret}`, hash: sha256(secret) };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Constant-time: a mismatch takes as long wherever it is. */
function secretMatches(secret: string, storedHash: Uint8Array): boolean {
  const hash = sha256(secret);
  return storedHash.length === hash.length && timingSafeEqual(hash, storedHash);
}

const unauthenticated = () =>
  new RegistryError(
    'UNAUTHENTICATED',
    'a valid, unexpired, unrevoked API token is required (Authorization: Bearer …)',
  );

const tokenInput = z.strictObject({
  principalId: uuid,
  role: z.enum(ROLES),
  vaultId: uuid.optional(),
  expiresAt: timestamp.optional(),
});

export interface CreatedToken {
  /** The bearer token. Shown once: only its hash is stored. */
  token: string;
  apiToken: ApiToken;
}

/** A token for an existing principal, with one role, optionally limited to one vault. */
export const createToken = defineUseCase({
  action: 'token_create',
  capability: 'tokens:manage',
  input: tokenInput,
  logs: 'every attempt',
  names: (raw) => (isUuid(raw.vaultId) ? { vaultId: raw.vaultId } : {}),
  async body(op, t, { deps, tenantId, ctx }): Promise<CreatedToken | Refusal> {
    if (t.expiresAt && t.expiresAt <= deps.clock.now()) {
      return op.refuse(
        new RegistryError('VALIDATION', 'invalid input: expiresAt must be in the future', {
          issues: [{ path: 'expiresAt', problem: 'must be in the future' }],
        }),
      );
    }
    if (!(await op.tx.principals.find(t.principalId))) {
      return op.refuse(new RegistryError('NOT_FOUND', 'principal not found'));
    }
    if (t.vaultId && !(await op.tx.vaults.find(t.vaultId))) {
      return op.refuse(new RegistryError('NOT_FOUND', 'vault not found'));
    }
    const id = newId();
    const { secret, hash } = mint(`crt.${hex(tenantId)}.${hex(id)}`);
    const apiToken = await op.tx.tokens.insert({
      id,
      principalId: t.principalId,
      role: t.role,
      vaultId: t.vaultId ?? null,
      secretHash: hash,
      expiresAt: t.expiresAt ?? null,
      createdBy: ctx.actor,
    });
    await op.granted();
    return { token: secret, apiToken };
  },
});

/**
 * A new principal (a user named `name`) and a token for it, in one transaction: how the platform
 * admin gives a tenant its first admin (and, as break-glass, a new one). Logged in the tenant.
 */
export const createPrincipalWithToken = defineUseCase({
  action: 'token_create',
  capability: 'tokens:manage',
  input: z.strictObject({ name: principalInput.shape.name, role: z.enum(ROLES).default('admin') }),
  logs: 'every attempt',
  async body(op, p, { tenantId, ctx }): Promise<CreatedToken> {
    const id = newId();
    const { secret, hash } = mint(`crt.${hex(tenantId)}.${hex(id)}`);
    const principal = await op.tx.principals.insert({ id: newId(), name: p.name, kind: 'user' });
    const apiToken = await op.tx.tokens.insert({
      id,
      principalId: principal.id,
      role: p.role,
      vaultId: null,
      secretHash: hash,
      expiresAt: null,
      createdBy: ctx.actor,
    });
    await op.also('principal_create');
    await op.granted();
    return { token: secret, apiToken };
  },
});

export const listTokens = defineUseCase({
  action: 'token_list',
  capability: 'tokens:manage',
  input: pageOptions.strict(),
  logs: 'refusals',
  async body(op, { limit, cursor }): Promise<Page<ApiToken>> {
    return toPage(await op.tx.tokens.list(limit + 1, decodeIdCursor(cursor)), limit, (t) =>
      encodeIdCursor(t.id),
    );
  },
});

/** Revokes a token; see `TokenService.revoke` for when other instances stop accepting it. */
export const revokeToken = defineUseCase({
  action: 'token_revoke',
  capability: 'tokens:manage',
  input: z.strictObject({ id: uuid }),
  logs: 'every attempt',
  async body(op, { id }, { deps }): Promise<ApiToken | Refusal> {
    const revoked = await op.tx.tokens.revoke(id, deps.clock.now());
    if (!revoked) return op.refuse(new RegistryError('NOT_FOUND', 'token not found'));
    await op.granted();
    return revoked;
  },
});

/** API tokens of one tenant, as library calls. */
export class TokenService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
    private readonly onRevoke: (tokenId: string) => void,
  ) {}

  create(
    input: { principalId: string; role: Role; vaultId?: string; expiresAt?: Date },
    ctx: RequestContext,
  ): Promise<CreatedToken> {
    return runUseCase(this.deps, this.tenantId, createToken, input, ctx);
  }

  createWithPrincipal(input: { name: string; role?: Role }, ctx: RequestContext): Promise<CreatedToken> {
    return runUseCase(this.deps, this.tenantId, createPrincipalWithToken, input, ctx);
  }

  list(options: PageOptions = {}, ctx: RequestContext = IN_PROCESS): Promise<Page<ApiToken>> {
    return runUseCase(this.deps, this.tenantId, listTokens, options, ctx);
  }

  /** Revokes at once on this instance; other instances stop accepting it within the auth cache TTL. */
  async revoke(id: string, ctx: RequestContext): Promise<ApiToken> {
    const token = await runUseCase(this.deps, this.tenantId, revokeToken, { id }, ctx);
    this.onRevoke(id);
    return token;
  }
}

export interface AuthenticatorOptions {
  /** How long a verified token is trusted without another lookup, in ms. (Default: 5000) */
  cacheTtlMs?: number;
  /** (Default: 10000) */
  cacheMaxEntries?: number;
}

interface Verified {
  caller: Caller;
  expiresAt: Date | null;
}

/**
 * Turns a bearer token into a `Caller`. Verified tokens are cached briefly (keyed by the token's
 * hash, never the token) so a request does not pay a second transaction; revocation through this
 * instance evicts at once.
 */
export class Authenticator {
  readonly #cache: LRUCache<string, Verified>;

  constructor(
    private readonly deps: Pick<RegistryDeps, 'store' | 'clock'>,
    options: AuthenticatorOptions = {},
  ) {
    this.#cache = new LRUCache({ max: options.cacheMaxEntries ?? 10_000, ttl: options.cacheTtlMs ?? 5_000 });
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw unauthenticated();
    const key = sha256(token).toString('hex');
    const cached = this.#cache.get(key);
    const now = this.deps.clock.now();
    if (cached && (!cached.expiresAt || cached.expiresAt > now)) return cached.caller;
    const parsed = parseToken(token);
    if (!parsed) throw unauthenticated();
    const verified = parsed.kind === 'platform' ? await this.#platform(parsed) : await this.#tenant(parsed);
    if (!verified || (verified.expiresAt && verified.expiresAt <= now)) throw unauthenticated();
    this.#cache.set(key, verified);
    return verified.caller;
  }

  /** Drops a revoked token from the cache. */
  forget(tokenId: string): void {
    for (const [key, v] of this.#cache.entries()) if (v.caller.tokenId === tokenId) this.#cache.delete(key);
  }

  /** Drops the tokens limited to a vault that was deleted (the database deleted them with it). */
  forgetVault(tenantId: string, vaultId: string): void {
    for (const [key, v] of this.#cache.entries()) {
      if (v.caller.kind === 'tenant' && v.caller.tenantId === tenantId && v.caller.vaultId === vaultId) {
        this.#cache.delete(key);
      }
    }
  }

  /**
   * On an empty store, creates the first platform-admin token and returns it (to be shown once);
   * returns null when platform tokens exist already.
   */
  async bootstrap(): Promise<string | null> {
    const id = newId();
    const { secret, hash } = mint(`crp.${hex(id)}`);
    const created = await this.deps.store.withPlatform(async (tx) => {
      // Two instances starting on one empty store must not both mint a token.
      await tx.lockPlatformTokens();
      if ((await tx.countPlatformTokens()) > 0) return false;
      await tx.insertPlatformToken({ id, name: 'bootstrap', secretHash: hash });
      return true;
    });
    return created ? secret : null;
  }

  async #platform(p: Extract<ParsedToken, { kind: 'platform' }>): Promise<Verified | null> {
    const row = await this.deps.store.withPlatform((tx) => tx.findPlatformToken(p.id));
    if (!row || row.revokedAt || !secretMatches(p.secret, row.secretHash)) return null;
    return { caller: { kind: 'platform', tokenId: row.id, name: row.name }, expiresAt: row.expiresAt };
  }

  async #tenant(p: Extract<ParsedToken, { kind: 'tenant' }>): Promise<Verified | null> {
    if (!isUuid(p.tenantId)) return null;
    const row = await this.deps.store.withTenant(p.tenantId, (tx) => tx.tokens.find(p.id));
    if (!row || row.revokedAt || !secretMatches(p.secret, row.secretHash)) return null;
    return {
      caller: {
        kind: 'tenant',
        tenantId: row.tenantId,
        tokenId: row.id,
        principalId: row.principalId,
        role: row.role,
        vaultId: row.vaultId,
      },
      expiresAt: row.expiresAt,
    };
  }
}
