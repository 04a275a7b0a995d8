/**
 * One credential: its metadata, reveal, rotate, settings and status, and its versions. The
 * controls follow what the token may do (a reader never sees rotate; an auditor or a writer never
 * sees reveal); the server checks every call anyway.
 */
import { useEffect, useState } from 'preact/hooks';
import { type CredentialResource, isApiError } from '../../../src/client/index.js';
import { LifecycleActions, SettingsForm } from '../components/credential-settings.js';
import { ExpiryBadge, RotationBadge, StateBadges } from '../components/credential-status.js';
import { TYPE_LABELS } from '../components/credential-types.js';
import { isNotFound, Problem } from '../components/problem.js';
import { RevealPanel } from '../components/reveal-panel.js';
import { RotatePanel } from '../components/rotate-panel.js';
import { TableWrap } from '../components/table-wrap.js';
import { Badge, Empty, Loading, PageHeader, When } from '../components/ui.js';
import { useAsync } from '../components/use-async.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { NotFoundView } from './not-found.js';

export function CredentialView({ credentialId }: { credentialId: string }) {
  const { client, can } = useSession();
  const loaded = useAsync(() => client.getCredential(credentialId), [client, credentialId]);
  const versions = useAsync(() => client.listVersions(credentialId), [client, credentialId]);
  const vaultId = loaded.data?.vaultId;
  const vault = useAsync(async () => (vaultId ? client.getVault(vaultId) : undefined), [client, vaultId]);
  // What an action answered, shown at once (the next load replaces it).
  const [fresh, setFresh] = useState<CredentialResource | null>(null);
  useEffect(() => setFresh(null), [loaded.data]);
  const changed = (c: CredentialResource) => {
    setFresh(c);
    versions.reload();
  };

  // An id that is not one (a mistyped URL) names nothing either.
  if (isNotFound(loaded.error) || isApiError(loaded.error, 'VALIDATION'))
    return <NotFoundView what="credential" />;
  const c = fresh?.id === credentialId ? fresh : loaded.data;
  if (!c) {
    return (
      <section>
        <PageHeader title="Credential" />
        <Problem error={loaded.error} />
        {loaded.loading ? <Loading what="Loading the credential" /> : null}
      </section>
    );
  }
  const live = !c.deletedAt;
  return (
    <section>
      <p class="crumbs">
        <Link href="/vaults">Vaults</Link> /{' '}
        <Link href={`/vaults/${encodeURIComponent(c.vaultId)}`}>{vault.data?.name ?? 'Vault'}</Link> /
      </p>
      <PageHeader title={c.name}>
        <StateBadges credential={c} />
        <ExpiryBadge expiresAt={c.expiresAt} />
        <RotationBadge rotation={c.rotation} />
      </PageHeader>
      <Problem error={loaded.error} />
      <div class="credential-layout">
        <div class="panel">
          <h2>Details</h2>
          <Details credential={c} />
        </div>
        <div>
          {live && can('credentials:reveal') ? (
            c.isActive ? (
              // A new version or another credential starts a new panel: nothing revealed carries over.
              <RevealPanel key={`${c.id}:${c.currentVersion}`} credential={c} />
            ) : (
              <p class="notice">Inactive: activate it to reveal its value.</p>
            )
          ) : null}
          {live && c.isActive && can('credentials:write') ? (
            <RotatePanel key={c.id} credential={c} onRotated={(r) => changed(r.credential)} />
          ) : null}
        </div>
      </div>
      {can('credentials:write') ? (
        <>
          {live ? <SettingsForm key={c.id} credential={c} onSaved={changed} /> : null}
          <LifecycleActions credential={c} onChanged={changed} />
        </>
      ) : null}
      <h2>Versions</h2>
      <Problem error={versions.error} />
      {versions.loading && !versions.data ? <Loading what="Loading versions" /> : null}
      {versions.data && versions.data.items.length === 0 ? <Empty>No versions.</Empty> : null}
      {versions.data && versions.data.items.length > 0 ? (
        <TableWrap label="Versions">
          <table class="versions">
            <caption class="sr-only">Versions</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Stages</th>
                <th scope="col">Created</th>
                <th scope="col">Created by</th>
                <th scope="col">Vault key</th>
              </tr>
            </thead>
            <tbody>
              {versions.data.items.map((v) => (
                <tr key={v.version} data-testid={`version-${v.version}`}>
                  <td>{v.version}</td>
                  <td>
                    <div class="badges">
                      {v.stages.map((s) => (
                        <Badge key={s} tone={s === 'current' ? 'good' : s === 'pending' ? 'warn' : 'neutral'}>
                          {s}
                        </Badge>
                      ))}
                      {v.destroyedAt ? <Badge tone="bad">destroyed</Badge> : null}
                    </div>
                  </td>
                  <td>
                    <When at={v.createdAt} />
                  </td>
                  <td>
                    {v.createdByName ? v.createdByName : <code title={v.createdBy}>{v.createdBy}</code>}
                  </td>
                  <td>v{v.vaultKeyVersion}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </section>
  );
}

function Details({ credential: c }: { credential: CredentialResource }) {
  const r = c.rotation;
  return (
    <dl class="meta">
      <dt>Type</dt>
      <dd>{TYPE_LABELS[c.type] ?? c.type}</dd>
      <dt>Current version</dt>
      <dd data-testid="current-version">{c.currentVersion}</dd>
      <dt>Id</dt>
      <dd>
        <code>{c.id}</code>
      </dd>
      <dt>Expires</dt>
      <dd>
        <When at={c.expiresAt} />
      </dd>
      <dt>Rotation</dt>
      <dd>
        {r ? (
          <>
            <code>{r.rotator.type}</code> rotator, {r.schedule ? `every ${r.schedule}` : 'on demand'}; next{' '}
            <When at={r.nextRotationAt} />; state {r.state}
            {r.attempts > 0 ? `, ${r.attempts} attempt(s)` : ''}
            {r.lastError ? (
              <span class="problem-inline">
                {' '}
                Last error: {r.lastError.code}: {r.lastError.message} (<When at={r.lastError.at} />)
              </span>
            ) : null}
          </>
        ) : c.rotationSchedule ? (
          `by hand, every ${c.rotationSchedule}`
        ) : (
          <span class="muted">none</span>
        )}
      </dd>
      <dt>Last rotated</dt>
      <dd>
        <When at={c.lastRotatedAt} />
      </dd>
      <dt>Created</dt>
      <dd>
        <When at={c.createdAt} /> by <code>{c.createdBy}</code>
      </dd>
      <dt>Updated</dt>
      <dd>
        <When at={c.updatedAt} />
      </dd>
      {c.deletedAt ? (
        <>
          <dt>Deleted</dt>
          <dd>
            <When at={c.deletedAt} />; purged after <When at={c.purgeAfter} />
          </dd>
        </>
      ) : null}
      <dt>Metadata</dt>
      <dd>
        {Object.keys(c.metadata).length ? (
          <pre class="mono">{JSON.stringify(c.metadata, null, 2)}</pre>
        ) : (
          <span class="muted">none</span>
        )}
      </dd>
    </dl>
  );
}
