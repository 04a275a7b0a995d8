/** Badges for where a credential stands: expiry, rotation, inactive or deleted. */
import type { CredentialResource } from '../../../src/client/index.js';
import { Badge } from './ui.js';

/** "Expiring soon" means within this many days. */
export const EXPIRING_SOON_DAYS = 30;

/** Expired, or expiring within 30 days; nothing otherwise. */
export function ExpiryBadge({ expiresAt, now = Date.now() }: { expiresAt: string | null; now?: number }) {
  if (!expiresAt) return null;
  const left = new Date(expiresAt).getTime() - now;
  if (left <= 0) return <Badge tone="bad">expired</Badge>;
  if (left <= EXPIRING_SOON_DAYS * 86_400_000) {
    const days = Math.ceil(left / 86_400_000);
    return <Badge tone="warn">{`expires in ${days} day${days === 1 ? '' : 's'}`}</Badge>;
  }
  return null;
}

const ROTATION_TONES = {
  idle: 'neutral',
  rotating: 'warn',
  failed: 'bad',
  needs_reauthorization: 'bad',
} as const;

/** The rotation state, when the credential has a rotator. */
export function RotationBadge({ rotation }: { rotation: CredentialResource['rotation'] }) {
  if (!rotation) return null;
  return <Badge tone={ROTATION_TONES[rotation.state]}>{rotation.state.replace('_', ' ')}</Badge>;
}

/** Inactive and deleted, when so. */
export function StateBadges({ credential }: { credential: CredentialResource }) {
  return (
    <>
      {credential.deletedAt ? <Badge tone="bad">deleted</Badge> : null}
      {credential.isActive ? null : <Badge tone="warn">inactive</Badge>}
    </>
  );
}
