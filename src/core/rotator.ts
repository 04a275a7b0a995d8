/**
 * The rotator port: how a credential's next value is made and put into effect at the system that
 * checks it (a database server, an OAuth 2.0 server, a tenant's own endpoint).
 *
 * Glossary:
 * - **target**: the system that accepts or refuses the credential (the database whose user it is).
 * - **pending value**: the next value, made by `create`, stored as the `pending` version before
 *   anything changes at the target, so a crash at any later step finds it again.
 * - The four steps follow AWS Secrets Manager's rotation functions: `create` makes the pending
 *   value, `set` puts it into effect at the target, `test` proves it works there (logs in with
 *   it), `finish` retires what the target no longer needs. The core promotes the pending version
 *   to `current` only after `test` succeeded.
 *
 * Every step must be safe to run again with the same pending value (the core resumes an
 * interrupted rotation at the step it stopped at), and must never put a secret in an error
 * message: a step fails with a `RotationError` whose message names what failed, not with what.
 */
import type { z } from 'zod';
import type { CredentialType } from './types.js';

/** What a step may read: the credential being rotated, its settings, and the credentials they name. */
export interface RotationContext<Settings = unknown> {
  readonly tenantId: string;
  readonly credentialId: string;
  readonly credentialType: CredentialType;
  /** The current value (what the target accepts now). */
  readonly current: unknown;
  /** The rotator's settings, as parsed by its `settings` schema. */
  readonly settings: Settings;
  /**
   * The value of another credential of the same tenant that the settings name (an admin
   * connection string, an OAuth client), revealed through the registry with an access-log row.
   */
  related(credentialId: string): Promise<{ type: CredentialType; value: unknown }>;
  /** Aborted when the step's deadline passes; pass it to every network call. */
  readonly signal: AbortSignal;
}

/** Why a step failed, without any secret in it. `retryable`: a later attempt may succeed. */
export class RotationError extends Error {
  constructor(
    /** Stable, e.g. `TARGET_UNREACHABLE`, `TARGET_REFUSED`, `TEST_FAILED`, `INVALID_GRANT`. */
    readonly code: string,
    message: string,
    readonly options: { retryable: boolean; cause?: unknown } = { retryable: true },
  ) {
    super(message, { cause: options.cause });
    this.name = 'RotationError';
  }
}

/** One kind of rotator (`postgresql`, `mysql`, `oauth2_refresh`, `webhook`, `random`). */
export interface Rotator<Settings = unknown> {
  readonly type: string;
  /** The credential types it can rotate. */
  readonly credentialTypes: readonly CredentialType[];
  /** Its settings on a credential: ids and options only, never a secret (they are shown in metadata). */
  readonly settings: z.ZodType<Settings>;
  /**
   * The rotator's own clock, for a value with a lifetime of its own (an access token's
   * `expires_at`): when this value, made at `issuedAt`, is due, or null. The credential is due at
   * the earlier of this and its schedule.
   */
  dueAt?(value: unknown, settings: Settings, issuedAt: Date): Date | null;
  /**
   * A reveal that finds the credential due runs the rotator first and answers the new value, so a
   * caller never gets a value past its refresh time (an access token about to expire). One run
   * serves every concurrent reveal. Only for rotators as fast as a request (a token refresh).
   */
  readonly refreshesOnReveal?: boolean;
  /**
   * The rotator signs its calls to the target with a secret the registry holds for each credential
   * (the `webhook` rotator): the core makes one when settings name the rotator, shows it once, and
   * replaces it on request (`rotation-signing-secrets.ts`). (Default: false)
   */
  readonly signsRequests?: boolean;
  /**
   * Its steps send a value out of the registry to a place the settings, or a credential they
   * name, decide (a tenant endpoint gets `current`; an OAuth token endpoint gets the refresh
   * token). Naming it is then as good as a reveal, so it takes `credentials:reveal` as well as
   * `credentials:write`: a writer who may not reveal may not point a value at a server of theirs.
   */
  readonly sendsValues?: boolean;
  /** Makes the pending value from the current one. Changes nothing at the target. */
  create(ctx: RotationContext<Settings>): Promise<unknown>;
  /** Puts the pending value into effect at the target. */
  set(ctx: RotationContext<Settings>, pending: unknown): Promise<void>;
  /** Proves the pending value works at the target; throws `RotationError('TEST_FAILED', …)` if not. */
  test(ctx: RotationContext<Settings>, pending: unknown): Promise<void>;
  /** Retires what the target no longer needs once the pending value is current (may do nothing). */
  finish(ctx: RotationContext<Settings>, pending: unknown): Promise<void>;
}
