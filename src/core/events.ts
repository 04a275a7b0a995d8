/**
 * The events the registry records in its outbox and sends to webhook subscriptions.
 *
 * Glossary
 * - **event**: one committed change (a credential rotated, a vault deleted), written to the outbox
 *   (`events`) in the change's own transaction, so it exists exactly when the change does. It
 *   holds ids and metadata only: never a credential value, never a secret.
 * - **subscription**: a tenant's receiver URL, the event types it wants (or all), and the
 *   `whsec_…` secret its messages are signed with (Standard Webhooks).
 * - **delivery**: one event on its way to one subscription; tried until it arrives, or given up
 *   (see the worker in `webhook-delivery.ts`). At least once: a receiver drops repeats by `webhook-id`.
 */
import type { Credential } from './types.js';

export const EVENT_TYPES = [
  'credential.created',
  'credential.rotated',
  'credential.updated',
  'credential.deleted',
  'credential.restored',
  /** A rotator's run failed; the current value stays (data: the step and the rotator's code). */
  'credential.rotation_failed',
  /** The target refused the rotator for good (an OAuth `invalid_grant`): a person must act. */
  'credential.needs_reauthorization',
  /**
   * The credential's expiry is one of its alert windows away (data: `expiresAt`, `window`, the ISO
   * 8601 duration); sent once per window and expiry (see docs/rotation.md, "Expiry alerts").
   */
  'credential.expiring',
  /** The credential reached its `expiresAt`: reveals are refused until it is rotated (data: `expiresAt`). */
  'credential.expired',
  'vault.created',
  /** A vault's settings changed (its default expiry alerts). */
  'vault.updated',
  'vault.deleted',
  'key.rotated',
  /** Sent to one subscription on request (`POST /v1/webhooks/{id}/test`). */
  'webhook.test',
  /** A subscription was disabled after too many failed deliveries in a row. */
  'webhook.disabled',
  /**
   * A signed checkpoint of the tenant's audit log (data: `treeSize`, `rootHash`, `keyId`, and the
   * signed note as `checkpoint`), at most once per checkpoint interval while the log grows (and when a checkpoint is asked for): a witness
   * that keeps them can later prove the log truncated or forked (docs/audit.md).
   */
  'audit.checkpoint',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What an event says about a credential: ids, its name and version, never its value. */
export const credentialEventData = (c: Pick<Credential, 'id' | 'vaultId' | 'name' | 'currentVersion'>) => ({
  vaultId: c.vaultId,
  credentialId: c.id,
  name: c.name,
  version: c.currentVersion,
});
