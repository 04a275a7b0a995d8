import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { Layout } from './components/layout.js';
import { Problem } from './components/problem.js';
import { Button, Loading } from './components/ui.js';
import { match, navigate, useLocation } from './router.js';
import { type Session, SessionProvider, useSessionState } from './session.js';
import { AccessView } from './views/access.js';
import { AuditView } from './views/audit.js';
import { CredentialView } from './views/credential.js';
import { NotFoundView } from './views/not-found.js';
import { RootKeyView } from './views/root-key.js';
import { SignInView } from './views/sign-in.js';
import { TenantsView } from './views/tenants.js';
import { VaultView } from './views/vault.js';
import { VaultKeysView } from './views/vault-keys.js';
import { VaultsView } from './views/vaults.js';
import { WebhookView } from './views/webhook.js';
import { WebhooksView } from './views/webhooks.js';

interface Route {
  pattern: string;
  /** Which kind of token the view is for. */
  for: 'platform' | 'tenant';
  view(params: Record<string, string>): JSX.Element;
}

/** Every view of the console, by path under /ui. */
const ROUTES: Route[] = [
  { pattern: '/tenants', for: 'platform', view: () => <TenantsView /> },
  { pattern: '/root-key', for: 'platform', view: () => <RootKeyView /> },
  { pattern: '/vaults', for: 'tenant', view: () => <VaultsView /> },
  { pattern: '/vaults/:vaultId', for: 'tenant', view: (p) => <VaultView vaultId={p.vaultId!} /> },
  { pattern: '/vaults/:vaultId/keys', for: 'tenant', view: (p) => <VaultKeysView vaultId={p.vaultId!} /> },
  {
    pattern: '/credentials/:credentialId',
    for: 'tenant',
    view: (p) => <CredentialView credentialId={p.credentialId!} />,
  },
  { pattern: '/audit', for: 'tenant', view: () => <AuditView /> },
  { pattern: '/access', for: 'tenant', view: () => <AccessView /> },
  { pattern: '/webhooks', for: 'tenant', view: () => <WebhooksView /> },
  { pattern: '/webhooks/:webhookId', for: 'tenant', view: (p) => <WebhookView webhookId={p.webhookId!} /> },
];

const home = (session: Session) => (session.who.kind === 'platform' ? '/tenants' : '/vaults');

function Routed({ session }: { session: Session }) {
  const { path } = useLocation();
  useEffect(() => {
    if (path === '/') navigate(home(session), { replace: true });
  }, [path, session]);
  // A new view starts at the top, with the focus on its content (for keyboard and screen readers).
  useEffect(() => {
    window.scrollTo(0, 0);
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (params && route.for === session.who.kind) return <Layout>{route.view(params)}</Layout>;
  }
  return <Layout>{path === '/' ? <Loading /> : <NotFoundView />}</Layout>;
}

function Root() {
  const { session, restoring, restoreError, retryRestore } = useSessionState();
  if (restoring) return <Loading what="Signing in" />;
  if (restoreError !== undefined && !session) {
    return (
      <main id="main" class="sign-in">
        <Problem error={restoreError} />
        <Button kind="primary" onClick={retryRestore}>
          Try again
        </Button>
      </main>
    );
  }
  if (!session) return <SignInView />;
  return <Routed session={session} />;
}

export function App() {
  return (
    <SessionProvider>
      <Root />
    </SessionProvider>
  );
}
