/**
 * A credential's rotation settings: what a caller may set on store or update, checked against the
 * rotator they name, and when such a schedule is due.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { refusal } from './authorization.js';
import { RegistryError } from './errors.js';
import type { CredentialType, RequestContext } from './types.js';
import { rotationSchedule } from './validation.js';

const isCron = (s: string) => {
  try {
    CronExpressionParser.parse(s);
    return s.trim().split(/\s+/).length >= 5;
  } catch {
    return false;
  }
};

/** `{ schedule?, rotator: { type, …settings } }` as a caller gives it on store or update. */
export const rotationSettings = z.strictObject({
  schedule: z
    .string()
    .max(200)
    .refine((s) => rotationSchedule.safeParse(s).success || isCron(s), {
      message: 'must be an ISO 8601 duration (e.g. "P30D") or a cron expression (e.g. "0 3 * * 1")',
    })
    .optional(),
  rotator: z.looseObject({ type: z.string().min(1).max(50) }),
});
export type RotationSettings = z.output<typeof rotationSettings>;

/**
 * Checks settings against the rotator they name (it exists, rotates this type, takes these
 * settings) and returns them as stored. Throws VALIDATION naming the field.
 */
export function checkRotation(
  deps: RegistryDeps,
  type: CredentialType,
  settings: RotationSettings,
  caller: RequestContext,
) {
  const { type: rotatorType, ...own } = settings.rotator;
  const rotator = deps.rotators?.get(rotatorType);
  const denied = rotator?.sendsValues ? refusal(caller, 'credentials:reveal', 'update') : null;
  if (denied) {
    throw new RegistryError(
      'FORBIDDEN',
      `the ${rotatorType} rotator sends the credential's value out of the registry, so setting it takes the right to reveal as well (${denied.message})`,
    );
  }
  const invalid = (path: string, problem: string) =>
    new RegistryError('VALIDATION', `invalid input: ${path} ${problem}`, { issues: [{ path, problem }] });
  if (!rotator) {
    const known = [...(deps.rotators?.keys() ?? [])].join(', ') || 'none';
    throw invalid('rotation.rotator.type', `is not a rotator this service has (it has: ${known})`);
  }
  if (!rotator.credentialTypes.includes(type)) {
    throw invalid(
      'rotation.rotator.type',
      `cannot rotate a ${type} (it rotates ${rotator.credentialTypes.join(', ')})`,
    );
  }
  const parsed = rotator.settings.safeParse(own);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: ['rotation.rotator', ...i.path.map(String)].join('.'),
      problem: i.code === 'unrecognized_keys' ? `has fields this rotator does not take` : i.message,
    }));
    throw new RegistryError(
      'VALIDATION',
      `invalid input: ${issues.map((i) => `${i.path} ${i.problem}`).join('; ')}`,
      {
        issues,
      },
    );
  }
  return {
    ...(settings.schedule ? { schedule: settings.schedule } : {}),
    rotator: { type: rotatorType, ...(parsed.data as object) },
  };
}

/**
 * When a credential with these settings and this current value (made at `from`) is next due: the
 * earlier of its schedule's next time and its rotator's own clock (`Rotator.dueAt`); null: never
 * by itself.
 */
export function nextDueAt(
  deps: RegistryDeps,
  settings: { schedule?: string | null; rotator: RotationSettings['rotator'] },
  value: unknown,
  from: Date,
): Date | null {
  const scheduled = nextRotationAt(settings.schedule, from);
  const rotator = deps.rotators?.get(settings.rotator.type);
  if (!rotator?.dueAt) return scheduled;
  const { type: _, ...own } = settings.rotator;
  const parsed = rotator.settings.safeParse(own);
  const ownDue = parsed.success ? rotator.dueAt(value, parsed.data, from) : null;
  return earliest(scheduled, ownDue && !Number.isNaN(ownDue.getTime()) ? ownDue : null);
}

/** The earlier of two due times, where null is never. */
export const earliest = (a: Date | null, b: Date | null): Date | null => (!a ? b : !b || a <= b ? a : b);

/** Whether a rotator wants a value it finds due refreshed before a reveal answers it. */
export const refreshesOnReveal = (deps: RegistryDeps, rotatorType: string) =>
  deps.rotators?.get(rotatorType)?.refreshesOnReveal === true;

/** The next time a schedule is due after `from`; null without a schedule. */
export function nextRotationAt(schedule: string | undefined | null, from: Date): Date | null {
  if (!schedule) return null;
  const m = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(\d+)H)?)$/.exec(schedule);
  if (m) {
    const hours = Number(m[1] ?? 0) * 168 + Number(m[2] ?? 0) * 24 + Number(m[3] ?? 0);
    return new Date(from.getTime() + hours * 3_600_000);
  }
  return CronExpressionParser.parse(schedule, { currentDate: from }).next().toDate();
}
