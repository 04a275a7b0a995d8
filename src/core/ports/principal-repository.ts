import type { Principal } from '../types.js';

/** The tenant's principals (`principals`): the users and services its tokens are issued to. */
export interface PrincipalRepository {
  insert(p: { id: string; name: string; kind: 'user' | 'service' }): Promise<Principal>;
  find(id: string): Promise<Principal | null>;
  /** By name, after the one given: a keyset page. */
  list(limit: number, afterName?: string): Promise<Principal[]>;
}
