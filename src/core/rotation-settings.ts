/**
 * A credential's rotation settings: what a caller may set on store or update, checked against the
 * rotator they name, and when such a schedule is due.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import type { RegistryDeps } from './audited-operation.js';
import { RegistryError } from './errors.js';
import type { CredentialType } from './types.js';
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
export function checkRotation(deps: RegistryDeps, type: CredentialType, settings: RotationSettings) {
  const { type: rotatorType, ...own } = settings.rotator;
  const rotator = deps.rotators?.get(rotatorType);
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
