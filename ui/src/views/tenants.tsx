/**
 * Tenants (platform token): create one, list them, and issue a tenant its first administrator's
 * token (shown once).
 */
import { useState } from 'preact/hooks';
import type { IssuedToken, TenantResource } from '../../../src/client/index.js';
import { ROLES } from '../../../src/core/types.js';
import { Problem } from '../components/problem.js';
import { ShownOnce } from '../components/shown-once.js';
import { TableWrap } from '../components/table-wrap.js';
import {
  Button,
  Dialog,
  Empty,
  Loading,
  PageHeader,
  SelectField,
  TextField,
  When,
} from '../components/ui.js';
import { useAction } from '../components/use-async.js';
import { usePages } from '../components/use-pages.js';
import { useSession } from '../session.js';

type Role = (typeof ROLES)[number];

export function TenantsView() {
  const { client } = useSession();
  const tenants = usePages((cursor) => client.listTenants({ limit: 100, cursor }), [client]);
  const [issuing, setIssuing] = useState<TenantResource | undefined>(undefined);
  return (
    <>
      <PageHeader title="Tenants" />
      <CreateTenant onCreated={tenants.reload} />
      <Problem error={tenants.error} />
      {tenants.items.length === 0 ? (
        tenants.loading ? (
          <Loading />
        ) : tenants.error ? null : (
          <Empty>No tenants yet. Create the first one above.</Empty>
        )
      ) : (
        <TableWrap label="Tenants">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tenants.items.map((t) => (
                <tr key={t.id} data-testid="tenant-row">
                  <td>{t.name}</td>
                  <td>
                    <code>{t.id}</code>
                  </td>
                  <td>
                    <When at={t.createdAt} />
                  </td>
                  <td>
                    <Button onClick={() => setIssuing(t)} aria-label={`Create admin token for ${t.name}`}>
                      Create admin token
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {tenants.more && !tenants.loading ? <Button onClick={tenants.loadMore}>Load more</Button> : null}
      {issuing ? <AdminTokenDialog tenant={issuing} onClose={() => setIssuing(undefined)} /> : null}
    </>
  );
}

function CreateTenant({ onCreated }: { onCreated(): void }) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string | undefined>(undefined);
  const create = useAction(async () => {
    const t = await client.createTenant({ name: name.trim() });
    setName('');
    setCreated(`Tenant "${t.name}" created. Give it an administrator with "Create admin token".`);
    onCreated();
  });
  return (
    <form
      class="panel"
      aria-label="New tenant"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      <TextField label="Tenant name" value={name} onValue={setName} required autoComplete="off" />
      <Problem error={create.error} />
      <div class="actions">
        <Button kind="primary" type="submit" pending={create.pending}>
          Create tenant
        </Button>
        <span role="status" class="muted">
          {created ?? ''}
        </span>
      </div>
    </form>
  );
}

/** Creates a principal in the tenant and a token for it; the token is shown here once. */
function AdminTokenDialog({ tenant, onClose }: { tenant: TenantResource; onClose(): void }) {
  const { client } = useSession();
  const [name, setName] = useState(`${tenant.name}-admin`);
  const [role, setRole] = useState<Role>('admin');
  const [issued, setIssued] = useState<IssuedToken | undefined>(undefined);
  const create = useAction(async () => {
    setIssued(await client.createTenantAdminToken(tenant.id, { name: name.trim(), role }));
  });
  return (
    <Dialog title={`A token for tenant ${tenant.name}`} onClose={onClose}>
      {issued ? (
        <ShownOnce what="token" secret={issued.token} onDone={onClose} />
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.run();
          }}
        >
          <TextField
            label="Principal name"
            value={name}
            onValue={setName}
            required
            autoComplete="off"
            hint="A new principal of the tenant, who holds the token"
          />
          <SelectField label="Role" value={role} onValue={(v) => setRole(v)} options={ROLES} />
          <Problem error={create.error} />
          <div class="actions">
            <Button onClick={onClose}>Cancel</Button>
            <Button kind="primary" type="submit" pending={create.pending}>
              Create token
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
