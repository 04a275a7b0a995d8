/**
 * Principals and their API tokens: create a principal, issue it a token (shown once), list the
 * tenant's tokens and revoke one.
 */
import { useState } from 'preact/hooks';
import type { IssuedToken, PrincipalResource, TokenResource } from '../../../src/client/index.js';
import { ROLES } from '../../../src/core/types.js';
import { localToIso } from '../components/datetime.js';
import { Problem } from '../components/problem.js';
import { ShownOnce } from '../components/shown-once.js';
import { TableWrap } from '../components/table-wrap.js';
import {
  Badge,
  Button,
  Dialog,
  Empty,
  Loading,
  PageHeader,
  SelectField,
  TextField,
  When,
} from '../components/ui.js';
import { useAction, useAsync } from '../components/use-async.js';
import { usePages } from '../components/use-pages.js';
import { useSession } from '../session.js';

type Role = (typeof ROLES)[number];

export function AccessView() {
  const { client } = useSession();
  const principals = usePages((cursor) => client.listPrincipals({ limit: 1000, cursor }), [client]);
  const tokens = usePages((cursor) => client.listTokens({ limit: 100, cursor }), [client]);
  const vaults = useAsync(() => client.listVaults({ limit: 1000 }), [client]);
  const names = new Map(principals.items.map((p) => [p.id, p.name]));
  const vaultNames = new Map((vaults.data?.items ?? []).map((v) => [v.id, v.name]));

  return (
    <>
      <PageHeader title="Principals & tokens" />
      <section aria-labelledby="principals-h">
        <h2 id="principals-h">Principals</h2>
        <CreatePrincipal onCreated={principals.reload} />
        <Problem error={principals.error} />
        <PrincipalTable principals={principals.items} loading={principals.loading} />
        {principals.more && !principals.loading ? (
          <Button onClick={principals.loadMore}>Load more principals</Button>
        ) : null}
      </section>
      <section aria-labelledby="tokens-h">
        <h2 id="tokens-h">Tokens</h2>
        <CreateToken
          principals={principals.items}
          vaults={vaults.data?.items ?? []}
          onCreated={tokens.reload}
        />
        <Problem error={tokens.error} />
        <Problem error={vaults.error} />
        <TokenTable
          tokens={tokens.items}
          loading={tokens.loading}
          principalName={(id) => names.get(id) ?? id}
          vaultName={(id) => vaultNames.get(id) ?? id}
          onRevoked={tokens.reload}
        />
        {tokens.more && !tokens.loading ? <Button onClick={tokens.loadMore}>Load more tokens</Button> : null}
      </section>
    </>
  );
}

function CreatePrincipal({ onCreated }: { onCreated(): void }) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'user' | 'service'>('user');
  const [created, setCreated] = useState<string | undefined>(undefined);
  const create = useAction(async () => {
    const p = await client.createPrincipal({ name: name.trim(), kind });
    setName('');
    setCreated(`Principal "${p.name}" created.`);
    onCreated();
  });
  return (
    <form
      class="panel"
      aria-label="New principal"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      <div class="grid-fields">
        <TextField label="Principal name" value={name} onValue={setName} required autoComplete="off" />
        <SelectField
          label="Kind"
          value={kind}
          onValue={(v) => setKind(v)}
          options={['user', 'service'] as const}
        />
      </div>
      <Problem error={create.error} />
      <div class="actions">
        <Button kind="primary" type="submit" pending={create.pending}>
          Create principal
        </Button>
        <span role="status" class="muted">
          {created ?? ''}
        </span>
      </div>
    </form>
  );
}

function PrincipalTable({ principals, loading }: { principals: PrincipalResource[]; loading: boolean }) {
  if (principals.length === 0) return loading ? <Loading /> : <Empty>No principals yet.</Empty>;
  return (
    <TableWrap label="Principals">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Id</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {principals.map((p) => (
            <tr key={p.id}>
              <td>{p.name}</td>
              <td>{p.kind}</td>
              <td>
                <code>{p.id}</code>
              </td>
              <td>
                <When at={p.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function CreateToken({
  principals,
  vaults,
  onCreated,
}: {
  principals: PrincipalResource[];
  vaults: { id: string; name: string }[];
  onCreated(): void;
}) {
  const { client } = useSession();
  const [principalId, setPrincipalId] = useState('');
  const [role, setRole] = useState<Role>('reader');
  const [vaultId, setVaultId] = useState('');
  const [expires, setExpires] = useState('');
  const [issued, setIssued] = useState<IssuedToken | undefined>(undefined);
  const chosen = principalId || principals[0]?.id || '';
  const create = useAction(async () => {
    const expiresAt = localToIso(expires);
    const token = await client.createToken({
      principalId: chosen,
      role,
      ...(vaultId ? { vaultId } : {}),
      ...(expiresAt ? { expiresAt } : {}),
    });
    setIssued(token);
    onCreated();
  });
  if (issued) return <ShownOnce what="token" secret={issued.token} onDone={() => setIssued(undefined)} />;
  return (
    <form
      class="panel"
      aria-label="New token"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      {principals.length === 0 ? <p class="muted">Create a principal first: a token acts as one.</p> : null}
      <div class="grid-fields">
        <SelectField
          label="Principal"
          value={chosen}
          onValue={setPrincipalId}
          options={principals.map((p) => ({ value: p.id, label: `${p.name} (${p.kind})` }))}
        />
        <SelectField label="Role" value={role} onValue={(v) => setRole(v)} options={ROLES} />
        <SelectField
          label="Vault scope"
          value={vaultId}
          onValue={setVaultId}
          options={[
            { value: '', label: 'Every vault' },
            ...vaults.map((v) => ({ value: v.id, label: v.name })),
          ]}
        />
        <TextField
          label="Expires (optional)"
          type="datetime-local"
          value={expires}
          onValue={setExpires}
          hint="Empty: the token does not expire"
        />
      </div>
      <Problem error={create.error} />
      <Button kind="primary" type="submit" pending={create.pending} disabled={!chosen || create.pending}>
        Create token
      </Button>
    </form>
  );
}

function tokenState(t: TokenResource): { label: string; tone: 'good' | 'bad' | 'warn' } {
  if (t.revokedAt) return { label: 'revoked', tone: 'bad' };
  if (t.expiresAt && new Date(t.expiresAt).getTime() <= Date.now()) return { label: 'expired', tone: 'warn' };
  return { label: 'active', tone: 'good' };
}

function TokenTable({
  tokens,
  loading,
  principalName,
  vaultName,
  onRevoked,
}: {
  tokens: TokenResource[];
  loading: boolean;
  principalName(id: string): string;
  vaultName(id: string): string;
  onRevoked(): void;
}) {
  const { who } = useSession();
  const [revoking, setRevoking] = useState<TokenResource | undefined>(undefined);
  if (tokens.length === 0) return loading ? <Loading /> : <Empty>No tokens yet.</Empty>;
  return (
    <>
      <TableWrap label="Tokens" wide>
        <table>
          <thead>
            <tr>
              <th scope="col">Principal</th>
              <th scope="col">Role</th>
              <th scope="col">Vault scope</th>
              <th scope="col">State</th>
              <th scope="col">Expires</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => {
              const state = tokenState(t);
              const mine = who.kind === 'tenant' && who.tokenId === t.id;
              return (
                <tr key={t.id} data-testid="token-row" data-token-id={t.id}>
                  <td>
                    {principalName(t.principalId)}
                    {mine ? (
                      <>
                        {' '}
                        <Badge>this session</Badge>
                      </>
                    ) : null}
                  </td>
                  <td>{t.role}</td>
                  <td>{t.vaultId ? vaultName(t.vaultId) : <span class="muted">every vault</span>}</td>
                  <td>
                    <Badge tone={state.tone}>{state.label}</Badge>
                  </td>
                  <td>
                    <When at={t.expiresAt} />
                  </td>
                  <td>
                    <When at={t.createdAt} />
                  </td>
                  <td>
                    {t.revokedAt ? null : (
                      <Button
                        kind="danger"
                        onClick={() => setRevoking(t)}
                        aria-label={`Revoke ${t.role} token of ${principalName(t.principalId)}`}
                      >
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableWrap>
      {revoking ? (
        <RevokeDialog
          token={revoking}
          principal={principalName(revoking.principalId)}
          onClose={() => setRevoking(undefined)}
          onRevoked={() => {
            setRevoking(undefined);
            onRevoked();
          }}
        />
      ) : null}
    </>
  );
}

function RevokeDialog({
  token,
  principal,
  onClose,
  onRevoked,
}: {
  token: TokenResource;
  principal: string;
  onClose(): void;
  onRevoked(): void;
}) {
  const { client } = useSession();
  const revoke = useAction(async () => {
    await client.revokeToken(token.id);
    onRevoked();
  });
  return (
    <Dialog title={`Revoke the ${token.role} token of ${principal}?`} onClose={onClose}>
      <p>Anything that uses this token is refused from now on. This cannot be undone.</p>
      <Problem error={revoke.error} />
      <div class="actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button kind="danger" onClick={() => revoke.run()} pending={revoke.pending}>
          Revoke token
        </Button>
      </div>
    </Dialog>
  );
}
