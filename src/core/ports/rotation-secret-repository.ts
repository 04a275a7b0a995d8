import type { WrappedKey } from '../ports.js';

/**
 * One signing secret of a credential's rotation endpoint (the `webhook` rotator), as stored: its
 * own key wrapped by the root key as a vault key is (the row's id where a vault key's names the
 * vault), and the secret sealed under it. Never the secret itself.
 */
export interface SealedRotationSecret {
  id: string;
  credentialId: string;
  wrappedKey: WrappedKey;
  secretCiphertext: Uint8Array;
  /** Null for the current secret; when it stops being signed with for one that replaced it. */
  retiresAt: Date | null;
  createdAt: Date;
}

export interface RotationSecretInsert {
  id: string;
  credentialId: string;
  wrappedKey: WrappedKey;
  secretCiphertext: Uint8Array;
  createdBy: string;
  createdAt: Date;
}

/**
 * The signing secrets of the tenant's rotation endpoints (`rotation_endpoint_secrets`): one
 * current secret per credential and, while it is being replaced, the one before it.
 */
export interface RotationSecretRepository {
  /** Adds the credential's current secret; there must be none (retire it first). */
  insert(s: RotationSecretInsert): Promise<void>;
  /** The credential's secrets still signed with at `now`, the current one first. */
  active(credentialId: string, now: Date): Promise<SealedRotationSecret[]>;
  /**
   * Makes way for a new current secret: drops the credential's secrets already retiring, and has
   * the current one retire at `at`. Answers the ids dropped.
   */
  retireCurrent(credentialId: string, at: Date): Promise<string[]>;
  /** Drops the credential's secrets retired by `now` (every credential's when none is named); answers their ids. */
  dropRetired(now: Date, credentialId?: string): Promise<string[]>;
  /** Drops every secret of the credential (its rotator was removed or changed); answers their ids. */
  deleteAll(credentialId: string): Promise<string[]>;
  /** Every secret's id and wrapped key, by id after the one given: for a root rotation. */
  listKeys(limit: number, afterId?: string): Promise<Array<{ id: string; wrappedKey: WrappedKey }>>;
  /** Replaces a secret key's wrapping if it is still the one read (compare-and-set). */
  replaceWrapping(id: string, from: WrappedKey, to: WrappedKey): Promise<boolean>;
}
