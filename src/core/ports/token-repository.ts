import type { ApiToken, Role } from '../types.js';

/** A token to issue, its secret already hashed; the store adds the tenant and the time. */
export interface TokenInsert {
  id: string;
  principalId: string;
  role: Role;
  vaultId: string | null;
  secretHash: Uint8Array;
  expiresAt: Date | null;
  createdBy: string;
}

/** The tenant's API tokens (`api_tokens`). Only a hash of each secret is stored. */
export interface TokenRepository {
  insert(t: TokenInsert): Promise<ApiToken>;
  /** The token with its secret's hash, for verification. */
  find(id: string): Promise<(ApiToken & { secretHash: Uint8Array }) | null>;
  /** By id, after the one given: a keyset page. */
  list(limit: number, afterId?: string): Promise<ApiToken[]>;
  /** Sets `revokedAt` unless already set; returns the token, or null if there is none. */
  revoke(id: string, at: Date): Promise<ApiToken | null>;
}
