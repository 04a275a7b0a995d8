/**
 * Who is signed in: the API token, kept in memory and in `sessionStorage` (so a reload of this tab
 * keeps it, and closing the tab forgets it), never in `localStorage`, a cookie or a URL.
 */
import { type ComponentChildren, createContext } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { isApiError, RegistryClient, type WhoamiResource } from '../../src/client/index.js';
import type { Capability } from '../../src/core/authorization.js';

const STORAGE_KEY = 'credreg.token';

export interface Session {
  client: RegistryClient;
  who: WhoamiResource;
  /** Whether the token may do this (`credentials:reveal`, …); the server checks every call anyway. */
  can(capability: Capability): boolean;
  signOut(): void;
}

interface SessionState {
  session: Session | null;
  /** True while a token kept in this tab is being checked. */
  restoring: boolean;
  /** Why the kept token could not be checked (the server unreachable, say); it is kept, to retry. */
  restoreError: unknown;
  retryRestore(): void;
  signIn(token: string): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

const clientFor = (token: string) => new RegistryClient({ addr: window.location.origin, token });

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => sessionStorage.getItem(STORAGE_KEY) !== null);

  const open = async (token: string): Promise<void> => {
    const client = clientFor(token);
    const who = await client.whoami();
    sessionStorage.setItem(STORAGE_KEY, token);
    const capabilities = new Set(who.kind === 'tenant' ? who.capabilities : []);
    setSession({
      client,
      who,
      can: (c) => capabilities.has(c),
      signOut: () => {
        sessionStorage.removeItem(STORAGE_KEY);
        setSession(null);
      },
    });
  };

  const [restoreError, setRestoreError] = useState<unknown>(undefined);
  const restore = () => {
    const kept = sessionStorage.getItem(STORAGE_KEY);
    if (!kept) return;
    setRestoring(true);
    setRestoreError(undefined);
    open(kept)
      .catch((err) => {
        // Only a token the server refuses is forgotten; an unreachable server is retried.
        if (isApiError(err, 'UNAUTHENTICATED')) sessionStorage.removeItem(STORAGE_KEY);
        else setRestoreError(err);
      })
      .finally(() => setRestoring(false));
  };
  useEffect(restore, []);

  const state = useMemo(
    () => ({ session, restoring, restoreError, retryRestore: restore, signIn: open }),
    [session, restoring, restoreError],
  );
  return <SessionContext.Provider value={state}>{children}</SessionContext.Provider>;
}

export function useSessionState(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSessionState outside SessionProvider');
  return state;
}

/** The signed-in session (views are only rendered with one). */
export function useSession(): Session {
  const { session } = useSessionState();
  if (!session) throw new Error('useSession without a session');
  return session;
}
