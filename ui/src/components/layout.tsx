import type { ComponentChildren } from 'preact';
import type { Capability } from '../../../src/core/authorization.js';
import { Link, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { Button } from './ui.js';

interface NavItem {
  href: string;
  label: string;
  /** Shown only when the token may do this. */
  needs?: Capability;
  /** Other paths that belong to this item (a credential is in a vault). */
  also?: string[];
}

const TENANT_NAV: NavItem[] = [
  { href: '/vaults', label: 'Vaults', also: ['/credentials'] },
  { href: '/audit', label: 'Access log', needs: 'audit:read' },
  { href: '/access', label: 'Principals & tokens', needs: 'tokens:manage' },
  { href: '/webhooks', label: 'Webhooks', needs: 'webhooks:manage' },
];
const PLATFORM_NAV: NavItem[] = [
  { href: '/tenants', label: 'Tenants' },
  { href: '/root-key', label: 'Root key' },
];

/** The frame of every signed-in view: who is signed in, what they may open, sign out. */
export function Layout({ children }: { children: ComponentChildren }) {
  const { who, can, signOut } = useSession();
  const { path } = useLocation();
  const items = (who.kind === 'platform' ? PLATFORM_NAV : TENANT_NAV).filter((i) => !i.needs || can(i.needs));
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          credential-registry
        </Link>
        <nav aria-label="Main">
          <ul>
            {items.map((i) => (
              <li key={i.href}>
                <Link
                  href={i.href}
                  aria-current={
                    [i.href, ...(i.also ?? [])].some((p) => path.startsWith(p)) ? 'page' : undefined
                  }
                >
                  {i.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="muted" data-testid="who">
            {who.kind === 'platform'
              ? `platform · ${who.name}`
              : `${who.role}${who.vaultId ? ' · one vault' : ''}`}
          </span>
          <Button onClick={signOut}>Sign out</Button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
