/** The credentials of one vault: search by name, expiry and rotation at a glance, create one per type. */
import { useState } from 'preact/hooks';
import { isApiError } from '../../../src/client/index.js';
import { CheckField, CreateCredentialForm, SigningSecretNotice } from '../components/credential-form.js';
import { ExpiryBadge, RotationBadge, StateBadges } from '../components/credential-status.js';
import { TYPE_LABELS } from '../components/credential-types.js';
import { Pager, useCursorPages } from '../components/cursor-pager.js';
import { isNotFound, Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Button, Empty, Loading, PageHeader, TextField, When } from '../components/ui.js';
import { useAsync } from '../components/use-async.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { NotFoundView } from './not-found.js';

export function VaultView({ vaultId }: { vaultId: string }) {
  const { client, can } = useSession();
  const vault = useAsync(() => client.getVault(vaultId), [client, vaultId]);
  const [search, setSearch] = useState('');
  const [withDeleted, setWithDeleted] = useState(false);
  const [creating, setCreating] = useState(false);
  const [signingSecret, setSigningSecret] = useState<string | null>(null);
  const prefix = search.trim();
  const pages = useCursorPages([vaultId, prefix, withDeleted]);
  const list = useAsync(
    () =>
      client.listCredentials(vaultId, {
        limit: 100,
        cursor: pages.cursor,
        ...(prefix ? { prefix } : {}),
        ...(withDeleted ? { includeDeleted: true } : {}),
      }),
    [client, vaultId, prefix, withDeleted, pages.cursor],
  );

  // An id that is not one (a mistyped URL) names nothing either.
  if (isNotFound(vault.error) || isApiError(vault.error, 'VALIDATION')) return <NotFoundView what="vault" />;
  const now = Date.now();
  return (
    <section>
      <p class="crumbs">
        <Link href="/vaults">Vaults</Link> /
      </p>
      <PageHeader title={vault.data ? vault.data.name : 'Vault'}>
        {can('keys:manage') ? (
          <Link href={`/vaults/${encodeURIComponent(vaultId)}/keys`}>Vault keys</Link>
        ) : null}
        {can('credentials:write') && !creating ? (
          <Button kind="primary" onClick={() => setCreating(true)}>
            New credential
          </Button>
        ) : null}
      </PageHeader>
      <Problem error={vault.error} />
      {vault.data?.description ? <p>{vault.data.description}</p> : null}
      {signingSecret ? (
        <SigningSecretNotice secret={signingSecret} onDismiss={() => setSigningSecret(null)} />
      ) : null}
      {creating ? (
        <CreateCredentialForm
          vaultId={vaultId}
          onCancel={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setSigningSecret(c.rotation?.signingSecret ?? null);
            list.reload();
          }}
        />
      ) : null}
      <div class="toolbar">
        <TextField
          label="Search credentials by name"
          type="search"
          value={search}
          onValue={setSearch}
          placeholder="Name starts with…"
          spellcheck={false}
        />
        <CheckField label="Show deleted" checked={withDeleted} onChecked={setWithDeleted} />
      </div>
      <Problem error={list.error} />
      {list.loading && !list.data ? <Loading what="Loading credentials" /> : null}
      {list.data && list.data.items.length === 0 ? (
        <Empty>
          {prefix ? `No credential's name starts with “${prefix}”.` : 'No credentials in this vault yet.'}
        </Empty>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <TableWrap label="Credentials">
          <table class="credentials">
            <caption class="sr-only">Credentials</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Version</th>
                <th scope="col">Expires</th>
                <th scope="col">Next rotation</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={`/credentials/${encodeURIComponent(c.id)}`}>{c.name}</Link>{' '}
                    <StateBadges credential={c} />
                  </td>
                  <td>{TYPE_LABELS[c.type] ?? c.type}</td>
                  <td>{c.currentVersion}</td>
                  <td>
                    <div class="cell-stack">
                      <When at={c.expiresAt} />
                      <ExpiryBadge expiresAt={c.expiresAt} now={now} />
                    </div>
                  </td>
                  <td>
                    <div class="cell-stack">
                      {c.rotation ? (
                        <When at={c.rotation.nextRotationAt} />
                      ) : c.rotationSchedule ? (
                        <span class="muted">every {c.rotationSchedule}</span>
                      ) : (
                        <span class="muted">—</span>
                      )}
                      <RotationBadge rotation={c.rotation} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager pages={pages} next={list.data?.nextCursor ?? null} />
    </section>
  );
}
