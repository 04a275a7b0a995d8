/**
 * The tenant's webhook subscriptions: list, create (the signing secret shown once), delete.
 */
import { useState } from 'preact/hooks';
import type { CreatedWebhookResource, WebhookResource } from '../../../src/client/index.js';
import { EVENT_TYPES } from '../../../src/core/events.js';
import { Problem } from '../components/problem.js';
import { ShownOnce } from '../components/shown-once.js';
import { TableWrap } from '../components/table-wrap.js';
import { Button, Empty, Loading, PageHeader, TextField, When } from '../components/ui.js';
import { useAction } from '../components/use-async.js';
import { usePages } from '../components/use-pages.js';
import { DeleteWebhookDialog, eventsOf, WebhookState } from '../components/webhook-parts.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

/** The event types a subscription may ask for (`webhook.test` goes to one subscription on request). */
const SUBSCRIBABLE = EVENT_TYPES.filter((t) => t !== 'webhook.test');

export function WebhooksView() {
  const { client } = useSession();
  const hooks = usePages((cursor) => client.listWebhooks({ limit: 100, cursor }), [client]);
  const [deleting, setDeleting] = useState<WebhookResource | undefined>(undefined);
  return (
    <>
      <PageHeader title="Webhooks" />
      <CreateWebhook onCreated={hooks.reload} />
      <Problem error={hooks.error} />
      {hooks.items.length === 0 ? (
        hooks.loading ? (
          <Loading />
        ) : hooks.error ? null : (
          <Empty>No webhooks yet.</Empty>
        )
      ) : (
        <TableWrap label="Webhooks" wide>
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.items.map((h) => (
                <tr key={h.id} data-testid="webhook-row">
                  <td>
                    <Link href={`/webhooks/${encodeURIComponent(h.id)}`} class="mono">
                      {h.url}
                    </Link>
                  </td>
                  <td>{eventsOf(h)}</td>
                  <td>
                    <WebhookState webhook={h} />
                  </td>
                  <td>
                    <When at={h.createdAt} />
                  </td>
                  <td>
                    <Button
                      kind="danger"
                      onClick={() => setDeleting(h)}
                      aria-label={`Delete webhook ${h.url}`}
                    >
                      Delete
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {hooks.more && !hooks.loading ? <Button onClick={hooks.loadMore}>Load more</Button> : null}
      {deleting ? (
        <DeleteWebhookDialog
          webhook={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setDeleting(undefined);
            hooks.reload();
          }}
        />
      ) : null}
    </>
  );
}

function CreateWebhook({ onCreated }: { onCreated(): void }) {
  const { client } = useSession();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<string>>(new Set());
  const [created, setCreated] = useState<CreatedWebhookResource | undefined>(undefined);
  const create = useAction(async () => {
    const hook = await client.createWebhook({
      url: url.trim(),
      ...(events.size > 0 ? { events: SUBSCRIBABLE.filter((t) => events.has(t)) } : {}),
    });
    setCreated(hook);
    setUrl('');
    setEvents(new Set());
    onCreated();
  });
  const toggle = (t: string, on: boolean) =>
    setEvents((old) => {
      const next = new Set(old);
      if (on) next.add(t);
      else next.delete(t);
      return next;
    });
  if (created) {
    return <ShownOnce what="signing secret" secret={created.secret} onDone={() => setCreated(undefined)} />;
  }
  return (
    <form
      class="panel"
      aria-label="New webhook"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      <TextField
        label="Receiver URL"
        type="url"
        value={url}
        onValue={setUrl}
        required
        placeholder="https://hooks.example.com/credreg"
        spellcheck={false}
      />
      <fieldset class="checks">
        <legend>Events (none checked: every event)</legend>
        {SUBSCRIBABLE.map((t) => (
          <label key={t}>
            <input
              type="checkbox"
              checked={events.has(t)}
              onChange={(e) => toggle(t, e.currentTarget.checked)}
            />{' '}
            <code>{t}</code>
          </label>
        ))}
      </fieldset>
      <Problem error={create.error} />
      <Button kind="primary" type="submit" pending={create.pending}>
        Create webhook
      </Button>
    </form>
  );
}
