/**
 * The root key (platform token): which root keys wrap the vault keys, how many are left under an
 * older one, and a rotation that re-wraps them under the current one.
 */
import { useState } from 'preact/hooks';
import type { RootRotationResult } from '../../../src/client/index.js';
import { Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Badge, Button, Empty, Loading, PageHeader } from '../components/ui.js';
import { useAction, useAsync } from '../components/use-async.js';
import { useSession } from '../session.js';

export function RootKeyView() {
  const { client } = useSession();
  const status = useAsync(() => client.rootKeyStatus(), [client]);
  const [result, setResult] = useState<RootRotationResult | undefined>(undefined);
  const rotate = useAction(async () => {
    setResult(await client.rotateRootKey());
    status.reload();
  });
  return (
    <>
      <PageHeader title="Root key">
        <Button kind="primary" onClick={() => rotate.run()} pending={rotate.pending}>
          Rotate root (re-wrap vault keys)
        </Button>
      </PageHeader>
      <p class="muted">
        The root key wraps every tenant's vault keys. After the server is configured with a new root key,
        rotating re-wraps the vault keys still under an older one; values are not re-encrypted.
      </p>
      <Problem error={rotate.error} />
      <p role="status">
        {rotate.pending
          ? 'Re-wrapping vault keys…'
          : result
            ? `Re-wrapped ${result.rewrapped} vault ${result.rewrapped === 1 ? 'key' : 'keys'}${result.failed ? `; ${result.failed} could not be unwrapped (see each tenant's access log)` : ''}.`
            : ''}
      </p>
      <Problem error={status.error} />
      {status.data ? (
        <>
          <p>
            {status.data.remaining === 0 ? (
              <Badge tone="good">every vault key is under the current root key</Badge>
            ) : (
              <Badge tone="warn">{status.data.remaining} vault keys still under an older root key</Badge>
            )}
          </p>
          {status.data.wrappedBy.length === 0 ? (
            <Empty>No vault keys yet.</Empty>
          ) : (
            <TableWrap label="Root keys">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    <th scope="col">Key id</th>
                    <th scope="col">Current</th>
                    <th scope="col">Vault keys</th>
                  </tr>
                </thead>
                <tbody>
                  {status.data.wrappedBy.map((w) => (
                    <tr key={`${w.provider}:${w.providerKeyId}`}>
                      <td>{w.provider}</td>
                      <td>
                        <code>{w.providerKeyId}</code>
                      </td>
                      <td>{w.current ? <Badge tone="good">current</Badge> : <Badge>older</Badge>}</td>
                      <td>{w.vaultKeys}</td>
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
    </>
  );
}
