/** The tenant's vaults: search by name prefix, create, delete (typed confirmation; force when not empty). */
import { useState } from 'preact/hooks';
import type { VaultResource } from '../../../src/client/index.js';
import { Pager, useCursorPages } from '../components/cursor-pager.js';
import { Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Button, Empty, Loading, PageHeader, TextField, TypedConfirm, When } from '../components/ui.js';
import { useAction, useAsync } from '../components/use-async.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

export function VaultsView() {
  const { client, can } = useSession();
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<VaultResource | null>(null);
  const prefix = search.trim();
  const pages = useCursorPages([prefix]);
  const list = useAsync(
    () => client.listVaults({ limit: 50, cursor: pages.cursor, ...(prefix ? { prefix } : {}) }),
    [client, prefix, pages.cursor],
  );

  return (
    <section>
      <PageHeader title="Vaults">
        {can('vaults:create') && !creating ? (
          <Button kind="primary" onClick={() => setCreating(true)}>
            New vault
          </Button>
        ) : null}
      </PageHeader>
      {creating ? (
        <CreateVaultForm
          onCancel={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            list.reload();
          }}
        />
      ) : null}
      <div class="toolbar">
        <TextField
          label="Search vaults by name"
          type="search"
          value={search}
          onValue={setSearch}
          placeholder="Name starts with…"
          spellcheck={false}
        />
      </div>
      <Problem error={list.error} />
      {list.loading && !list.data ? <Loading what="Loading vaults" /> : null}
      {list.data && list.data.items.length === 0 ? (
        <Empty>{prefix ? `No vault's name starts with “${prefix}”.` : 'No vaults yet.'}</Empty>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <TableWrap label="Vaults">
          <table>
            <caption class="sr-only">Vaults</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Versions kept</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((v) => (
                <tr key={v.id}>
                  <td>
                    <Link href={`/vaults/${encodeURIComponent(v.id)}`}>{v.name}</Link>
                  </td>
                  <td>{v.description ?? <span class="muted">—</span>}</td>
                  <td>{v.maxVersions}</td>
                  <td>
                    <When at={v.createdAt} />
                  </td>
                  <td>
                    <div class="actions row-actions">
                      {can('keys:manage') ? (
                        <Link
                          href={`/vaults/${encodeURIComponent(v.id)}/keys`}
                          aria-label={`Keys of ${v.name}`}
                        >
                          Keys
                        </Link>
                      ) : null}
                      {can('vaults:write') ? (
                        <Button kind="danger" onClick={() => setDeleting(v)} aria-label={`Delete ${v.name}`}>
                          Delete
                        </Button>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager pages={pages} next={list.data?.nextCursor ?? null} />
      {deleting ? (
        <DeleteVault
          vault={deleting}
          onCancel={() => setDeleting(null)}
          onDeleted={() => {
            setDeleting(null);
            list.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function CreateVaultForm({ onCreated, onCancel }: { onCreated(v: VaultResource): void; onCancel(): void }) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [maxVersions, setMaxVersions] = useState('');
  const create = useAction(() =>
    client.createVault({
      name: name.trim(),
      ...(description.trim() ? { description: description.trim() } : {}),
      ...(maxVersions ? { maxVersions: Number(maxVersions) } : {}),
    }),
  );
  return (
    <form
      class="panel"
      aria-label="New vault"
      onSubmit={async (e) => {
        e.preventDefault();
        const v = await create.run();
        if (v) onCreated(v);
      }}
    >
      <h2>New vault</h2>
      <div class="grid-fields">
        <TextField
          label="Name"
          value={name}
          onValue={setName}
          required
          autoComplete="off"
          spellcheck={false}
          hint="Letters, digits, “.”, “_” or “-”"
        />
        <TextField label="Description (optional)" value={description} onValue={setDescription} />
        <TextField
          label="Versions kept per credential (optional)"
          type="number"
          min={1}
          value={maxVersions}
          onValue={setMaxVersions}
          hint="Default: 10"
        />
      </div>
      <Problem error={create.error} />
      <div class="actions">
        <Button kind="primary" type="submit" pending={create.pending}>
          Create vault
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

/** Counts what the vault holds first, so the dialog can say that its credentials go with it. */
function DeleteVault({
  vault,
  onDeleted,
  onCancel,
}: {
  vault: VaultResource;
  onDeleted(): void;
  onCancel(): void;
}) {
  const { client } = useSession();
  const held = useAsync(
    () => client.listCredentials(vault.id, { limit: 1000, includeDeleted: true }),
    [client, vault.id],
  );
  const remove = useAction(async (force: boolean) => {
    await client.deleteVault(vault.id, { force });
    return true;
  });
  if (held.loading) return null;
  const count = held.data?.items.length ?? 0;
  const more = held.data?.nextCursor ? 'more than ' : '';
  return (
    <TypedConfirm
      what="vault"
      name={vault.name}
      action="Delete"
      pending={remove.pending}
      onCancel={onCancel}
      onDone={async () => {
        if (await remove.run(count > 0)) onDeleted();
      }}
    >
      <Problem error={held.error} />
      {count > 0 ? (
        <p class="notice">
          This vault still holds {more}
          {count} credential{count === 1 ? '' : 's'} (deleted ones included). They are destroyed with it, for
          good: no restore.
        </p>
      ) : (
        <p>The vault is empty. Its keys are destroyed with it.</p>
      )}
      <Problem error={remove.error} />
    </TypedConfirm>
  );
}
