import type { z } from 'zod';
import { describeError, type RegistryDeps } from './audited-operation.js';
import {
  deactivateCredential,
  deleteCredential,
  purgeCredential,
  reactivateCredential,
  restoreCredential,
  updateCredential,
} from './credential-changes.js';
import { getCredential, listCredentials, listVersions } from './credential-reads.js';
import { runRotation } from './credential-rotation.js';
import { type CredentialRef, refInput } from './credential-rules.js';
import { revealCredential, rotateCredential, storeCredential } from './credential-values.js';
import type { RotationSettings } from './rotation-settings.js';
import {
  type CredentialWithSigningSecret,
  replaceSigningSecret,
  type SigningSecretReplacement,
} from './rotation-signing-secrets.js';
import type {
  Credential,
  CredentialType,
  ListedVersion,
  Page,
  RequestContext,
  RevealedCredential,
  VersionStage,
} from './types.js';
import { IN_PROCESS, runUseCase, type UseCase } from './use-case.js';

export interface StoreCredentialInput {
  vaultId: string;
  /** Unique among the vault's live credentials; 1–100 letters, digits, `.`, `_`, `-`. */
  name: string;
  type: CredentialType;
  /** Checked against the type's schema; at most 64 KiB as JSON. */
  value: unknown;
  /** Stored in clear and returned by listings: never put secrets here. At most 8 KiB. */
  metadata?: Record<string, unknown>;
  expiresAt?: Date;
  /** ISO 8601 duration, e.g. `P90D`. */
  rotationSchedule?: string;
  /** Rotation by a rotator: `{ schedule?: "P30D" | cron, rotator: { type, …its settings } }`. */
  rotation?: RotationSettings;
  /**
   * Windows before `expiresAt` at which `credential.expiring` is sent, once each (ISO 8601
   * durations, at most 10, e.g. `["P30D", "P7D", "P1D"]`; `[]`: none). (Default: the vault's)
   */
  expiryAlerts?: string[];
}

export interface RevealOptions extends RequestContext {
  /** Why the value is needed; required, recorded in the access log. */
  reason: string;
  /** A past version; the current one when absent. */
  version?: number;
  /** A stage instead of a version: `pending` during a rotation, `previous` after one. */
  stage?: VersionStage;
}

export interface RotateOptions extends RequestContext {
  /** Check-and-set: refuse with VERSION_MISMATCH unless this is still the current version. */
  expectedVersion?: number;
  /** A new expiry for the credential (null clears it); unchanged when absent. */
  expiresAt?: Date | null;
}

export interface CredentialUpdate {
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
  rotationSchedule?: string | null;
  /** New rotation settings; null removes rotation. */
  rotation?: RotationSettings | null;
  /** false deactivates (every reveal and rotation refused), true reactivates. */
  active?: boolean;
  /** New expiry alert windows; null: inherit the vault's again. */
  expiryAlerts?: string[] | null;
}

/**
 * Credentials of one tenant: store, reveal, rotate, and their life cycle, as library calls. Each
 * runs one use-case above: every attempt, allowed or not, leaves a row in the access log, and a
 * value is returned only once its row is committed.
 */
export class CredentialService {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly tenantId: string,
  ) {}

  #run<S extends z.ZodType, P, O>(useCase: UseCase<S, P, O>, input: unknown, ctx: unknown): Promise<O> {
    return runUseCase(this.deps, this.tenantId, useCase, input, ctx);
  }

  /**
   * Stores a new credential as version 1. When its rotator signs its calls (`webhook`), the answer's
   * `rotation.signingSecret` is the signing secret, shown this once.
   * @example
   * const c = await t.credentials.store(
   *   { vaultId, name: 'stripe', type: 'api_key', value: 'sk_live_…' },
   *   { actor: 'alice' },
   * );
   */
  store(input: StoreCredentialInput, ctx: RequestContext): Promise<CredentialWithSigningSecret> {
    return this.#run(storeCredential, input, ctx);
  }

  /**
   * Returns a credential's value, once its access-log row is committed. `ref` is its id or its
   * path (`{ vault, name }`: names, looked up in the same transaction, among live credentials).
   * @example const { value } = await t.credentials.reveal(id, { actor: 'billing-job', reason: 'nightly invoice run' });
   * @example await t.credentials.reveal({ vault: 'payments', name: 'stripe' }, { actor: 'ci', reason: 'deploy' });
   */
  reveal(ref: CredentialRef, options: RevealOptions): Promise<RevealedCredential> {
    const { reason, version, stage, ...ctx } = options ?? ({} as RevealOptions);
    return this.#run(
      revealCredential,
      {
        ...refInput(ref),
        reason,
        ...(version !== undefined ? { version } : {}),
        ...(stage !== undefined ? { stage } : {}),
      },
      ctx,
    );
  }

  /** Adds a new version with a new value and makes it current. `ref`: its id or its path. */
  rotate(
    ref: CredentialRef,
    newValue: unknown,
    options: RotateOptions,
  ): Promise<{ credential: Credential; version: number }> {
    const { expectedVersion, expiresAt, ...ctx } = options ?? ({} as RotateOptions);
    // No value: the credential's rotator makes one (see credential-rotation.ts).
    if (newValue === undefined && expectedVersion === undefined && expiresAt === undefined)
      return runRotation(this.deps, this.tenantId, ref, ctx);
    return this.#run(
      rotateCredential,
      {
        ...refInput(ref),
        value: newValue,
        ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      },
      ctx,
    );
  }

  /**
   * Metadata only. A vault-scoped caller is refused (and logged) outside its vault. `ref`: its id,
   * or its path (a live credential's).
   */
  get(ref: CredentialRef, ctx: RequestContext = IN_PROCESS): Promise<Credential> {
    return this.#run(getCredential, refInput(ref), ctx);
  }

  list(
    vaultId: string,
    options: {
      limit?: number;
      cursor?: string;
      includeDeleted?: boolean;
      /** Only those expiring within this ISO 8601 duration (e.g. `P7D`), expired ones included. */
      expiringWithin?: string;
      /** Only those due (or overdue) to rotate. */
      rotationDue?: boolean;
      /** Only the one of this exact name. */
      name?: string;
      /** Only those whose name starts with this. */
      prefix?: string;
    } = {},
    ctx: RequestContext = IN_PROCESS,
  ): Promise<Page<Credential>> {
    return this.#run(listCredentials, { ...options, vaultId }, ctx);
  }

  /** `ref`: its id or its path. */
  listVersions(ref: CredentialRef, ctx: RequestContext = IN_PROCESS): Promise<ListedVersion[]> {
    return this.#run(listVersions, refInput(ref), ctx);
  }

  /**
   * Changes what `patch` gives. Settings that name a rotator which signs its calls, where the
   * credential had none of its own, answer its new signing secret in `rotation.signingSecret`,
   * shown this once; removing or changing that rotator drops its secrets.
   */
  update(id: string, patch: CredentialUpdate, ctx: RequestContext): Promise<CredentialWithSigningSecret> {
    return this.#run(updateCredential, { ...patch, id }, ctx);
  }

  /**
   * A new signing secret for the credential's rotator (`webhook`), shown this once; the one it
   * replaces is still signed with for 24 hours (`SIGNING_SECRET_OVERLAP_MS`), then dropped.
   * @example const { signingSecret } = await t.credentials.replaceSigningSecret(id, { actor: 'alice' });
   */
  replaceSigningSecret(id: string, ctx: RequestContext): Promise<SigningSecretReplacement> {
    return this.#run(replaceSigningSecret, { id }, ctx);
  }

  deactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(deactivateCredential, { id }, ctx);
  }

  reactivate(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(reactivateCredential, { id }, ctx);
  }

  delete(id: string, options: { recoveryWindowDays?: number }, ctx: RequestContext): Promise<Credential> {
    return this.#run(deleteCredential, { ...options, id }, ctx);
  }

  restore(id: string, ctx: RequestContext): Promise<Credential> {
    return this.#run(restoreCredential, { id }, ctx);
  }

  async purge(id: string, ctx: RequestContext): Promise<void> {
    await this.#run(purgeCredential, { id }, ctx);
  }

  /**
   * Purges every soft-deleted credential whose recovery window has ended; returns how many. One
   * failure (say, a credential restored meanwhile) is logged and skipped, not fatal to the sweep.
   */
  async purgeDue(ctx: RequestContext, batch = 100): Promise<number> {
    let purged = 0;
    for (;;) {
      const due = await this.deps.store.withTenant(this.tenantId, (tx) =>
        tx.credentials.listPurgeDue(this.deps.clock.now(), batch),
      );
      let progress = 0;
      for (const credential of due) {
        try {
          await this.purge(credential.id, ctx);
          progress++;
        } catch (err) {
          this.deps.logger.warn(
            { tenantId: this.tenantId, credentialId: credential.id, error: describeError(err) },
            'could not purge a credential past its recovery window; will retry on the next sweep',
          );
        }
      }
      purged += progress;
      if (due.length < batch || progress === 0) return purged;
    }
  }
}
