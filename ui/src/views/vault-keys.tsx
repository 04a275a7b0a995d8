/**
 * A vault's keys: each vault-key version and the data keys it still wraps; rotate to a new version,
 * re-wrap the data keys onto it (in small batches, with progress), destroy a version nothing uses.
 */
import { useState } from 'preact/hooks';
import type { VaultKeyStatus } from '../../../src/client/index.js';
import { Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Badge, Button, Empty, Loading, PageHeader, TypedConfirm, When } from '../components/ui.js';
import { useAction, useAsync } from '../components/use-async.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

/** Data keys per re-wrap request: small enough that the progress bar moves on a big vault. */
const REWRAP_BATCH = 100;

/** Data keys still wrapped by a version other than the current one. */
const outdated = (s: VaultKeyStatus) =>
  s.versions.filter((v) => v.version !== s.currentVersion).reduce((n, v) => n + v.dataKeys, 0);

export function VaultKeysView({ vaultId }: { vaultId: string }) {
  const { client, can } = useSession();
  const vault = useAsync(() => client.getVault(vaultId), [client, vaultId]);
  const status = useAsync(() => client.vaultKeyStatus(vaultId), [client, vaultId]);
  const manage = can('keys:manage');
  const [notice, setNotice] = useState('');
  const [progress, setProgress] = useState<{ done: number; total: number } | undefined>(undefined);
  const [destroying, setDestroying] = useState<number | undefined>(undefined);

  const rotate = useAction(async () => {
    const { version } = await client.rotateVaultKey(vaultId);
    setNotice(`Vault key version ${version} is now current; new values use it. Re-wrap to move the others.`);
    status.reload();
  });

  const rewrap = useAction(async () => {
    const start = status.data ? outdated(status.data) : 0;
    let done = 0;
    let total = start;
    setProgress({ done, total });
    for (;;) {
      const r = await client.rewrapVaultKeys(vaultId, { batchSize: REWRAP_BATCH, maxBatches: 1 });
      done += r.rewrapped;
      total = Math.max(total, done + r.remaining);
      setProgress({ done, total });
      // Nothing moved: stop rather than ask again forever (the server said why, if anything failed).
      if (r.remaining === 0 || r.rewrapped === 0) {
        setNotice(
          r.remaining === 0
            ? `Re-wrapped ${done} data ${done === 1 ? 'key' : 'keys'}; 0 remaining.`
            : `Re-wrap stopped with ${r.remaining} remaining.`,
        );
        break;
      }
    }
    status.reload();
  });

  const destroy = useAction(async (version: number) => {
    await client.destroyVaultKeyVersion(vaultId, version);
    setDestroying(undefined);
    setNotice(`Vault key version ${version} destroyed.`);
    status.reload();
  });

  const s = status.data;
  const left = s ? outdated(s) : 0;
  return (
    <>
      <p class="muted">
        <Link href={`/vaults/${encodeURIComponent(vaultId)}`}>← {vault.data?.name ?? 'Vault'}</Link>
      </p>
      <PageHeader title={vault.data ? `Keys of ${vault.data.name}` : 'Vault keys'}>
        {manage ? (
          <>
            <Button onClick={() => rotate.run()} pending={rotate.pending} disabled={rewrap.pending}>
              Rotate vault key
            </Button>
            <Button
              kind="primary"
              onClick={() => rewrap.run()}
              pending={rewrap.pending}
              disabled={rewrap.pending || !s || left === 0}
            >
              Re-wrap data keys
            </Button>
          </>
        ) : null}
      </PageHeader>
      <Problem error={vault.error} />
      <Problem error={rotate.error} />
      <Problem error={rewrap.error} />
      <Problem error={destroy.error} />
      {progress ? (
        <div class="field">
          <label for="rewrap-progress">Re-wrap progress</label>
          <progress id="rewrap-progress" value={progress.done} max={Math.max(progress.total, 1)}>
            {progress.done} of {progress.total}
          </progress>
        </div>
      ) : null}
      <p role="status" data-testid="keys-status">
        {rewrap.pending && progress ? `Re-wrapping… ${progress.done} of ${progress.total} data keys` : notice}
      </p>
      <Problem error={status.error} />
      {s ? (
        <>
          <p>
            Current version <strong>{s.currentVersion}</strong>;{' '}
            {left === 0 ? (
              <Badge tone="good">every data key uses it</Badge>
            ) : (
              <Badge tone="warn">{left} data keys under older versions</Badge>
            )}
          </p>
          {s.versions.length === 0 ? (
            <Empty>This vault has no key versions.</Empty>
          ) : (
            <TableWrap label="Vault-key versions">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Created</th>
                    <th scope="col">Data keys using it</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.versions.map((v) => (
                    <tr key={v.version} data-testid="key-version">
                      <td>{v.version}</td>
                      <td>
                        <When at={v.createdAt} />
                      </td>
                      <td>{v.dataKeys}</td>
                      <td>
                        {v.version === s.currentVersion ? (
                          <Badge tone="good">current</Badge>
                        ) : (
                          <Badge>older</Badge>
                        )}
                      </td>
                      <td>
                        {manage && v.version !== s.currentVersion && v.dataKeys === 0 ? (
                          <Button kind="danger" onClick={() => setDestroying(v.version)}>
                            Destroy version {v.version}
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </>
      ) : status.loading ? (
        <Loading />
      ) : null}
      {destroying !== undefined ? (
        <TypedConfirm
          what="vault key version"
          name={`v${destroying}`}
          action="Destroy"
          pending={destroy.pending}
          onDone={() => destroy.run(destroying)}
          onCancel={() => setDestroying(undefined)}
        />
      ) : null}
    </>
  );
}
