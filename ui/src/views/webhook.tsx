/**
 * One webhook subscription: its settings and state, its deliveries with their status, a test
 * event, enabling it again after it was disabled, deleting it.
 */
import { useState } from 'preact/hooks';
import { isApiError, type WebhookResource } from '../../../src/client/index.js';
import { isNotFound, Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Badge, Button, Empty, Loading, PageHeader, When } from '../components/ui.js';
import { useAction, useAsync } from '../components/use-async.js';
import { usePages } from '../components/use-pages.js';
import { DeleteWebhookDialog, eventsOf, WebhookState } from '../components/webhook-parts.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';

const deliveryTone = (s: string) => (s === 'delivered' ? 'good' : s === 'failed' ? 'bad' : 'neutral');

export function WebhookView({ webhookId }: { webhookId: string }) {
  const { client } = useSession();
  const hook = useAsync(
    (): Promise<WebhookResource | null> =>
      client.getWebhook(webhookId).catch((err) => {
        // A mistyped id (not a UUID) names nothing either.
        if (isNotFound(err) || isApiError(err, 'VALIDATION')) return null;
        throw err;
      }),
    [client, webhookId],
  );
  const deliveries = usePages(
    (cursor) => client.listWebhookDeliveries(webhookId, { limit: 50, cursor }),
    [client, webhookId],
  );
  const [notice, setNotice] = useState('');
  const [deleting, setDeleting] = useState(false);
  const test = useAction(async () => {
    const { eventId } = await client.testWebhook(webhookId);
    setNotice(`Test event ${eventId} queued.`);
    deliveries.reload();
  });
  const enable = useAction(async () => {
    await client.enableWebhook(webhookId);
    setNotice('Enabled again: deliveries resume.');
    hook.reload();
  });

  const back = (
    <p class="muted">
      <Link href="/webhooks">← Webhooks</Link>
    </p>
  );
  if (hook.loading && !hook.data) return <Loading />;
  if (hook.data === null || isNotFound(deliveries.error)) {
    return (
      <>
        {back}
        <PageHeader title="Webhook not found" />
        <Empty>No webhook of this tenant has this id.</Empty>
      </>
    );
  }
  const h = hook.data;
  return (
    <>
      {back}
      <PageHeader title="Webhook">
        {h ? (
          <>
            <Button onClick={() => test.run()} pending={test.pending}>
              Send test event
            </Button>
            {h.disabledAt ? (
              <Button kind="primary" onClick={() => enable.run()} pending={enable.pending}>
                Enable
              </Button>
            ) : null}
            <Button kind="danger" onClick={() => setDeleting(true)}>
              Delete
            </Button>
          </>
        ) : null}
      </PageHeader>
      <Problem error={hook.error} />
      <Problem error={test.error} />
      <Problem error={enable.error} />
      <p role="status">{notice}</p>
      {h ? (
        <dl class="meta panel">
          <dt>URL</dt>
          <dd>
            <code>{h.url}</code>
          </dd>
          <dt>Events</dt>
          <dd>{eventsOf(h)}</dd>
          <dt>State</dt>
          <dd>
            <WebhookState webhook={h} />
            {h.disabledAt ? (
              <>
                {' '}
                since <When at={h.disabledAt} />
              </>
            ) : null}
          </dd>
          <dt>Created</dt>
          <dd>
            <When at={h.createdAt} />
          </dd>
          <dt>Id</dt>
          <dd>
            <code>{h.id}</code>
          </dd>
        </dl>
      ) : null}
      <div class="section-header">
        <h2>Deliveries</h2>
        <Button onClick={deliveries.reload} pending={deliveries.loading}>
          Refresh deliveries
        </Button>
      </div>
      <Problem error={isNotFound(deliveries.error) ? undefined : deliveries.error} />
      {deliveries.items.length === 0 ? (
        deliveries.loading ? (
          <Loading />
        ) : deliveries.error ? null : (
          <Empty>No deliveries yet. "Send test event" queues one.</Empty>
        )
      ) : (
        <TableWrap label="Deliveries" wide>
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Delivered</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.items.map((d) => (
                <tr key={d.id} data-testid="delivery-row">
                  <td>
                    <code class="nowrap">{d.eventType}</code>
                    <div class="muted mono">{d.eventId}</div>
                  </td>
                  <td>
                    <Badge tone={deliveryTone(d.status)}>{d.status}</Badge>
                  </td>
                  <td>{d.attempts}</td>
                  <td>
                    {d.lastStatus ?? <span class="muted">—</span>}
                    {d.lastError ? <div class="muted">{d.lastError}</div> : null}
                  </td>
                  <td>
                    {d.status === 'pending' ? <When at={d.nextAttemptAt} /> : <span class="muted">—</span>}
                  </td>
                  <td>
                    <When at={d.deliveredAt} />
                  </td>
                  <td>
                    <When at={d.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {deliveries.more && !deliveries.loading ? (
        <Button onClick={deliveries.loadMore}>Load more</Button>
      ) : null}
      {deleting && h ? (
        <DeleteWebhookDialog
          webhook={h}
          onClose={() => setDeleting(false)}
          onDeleted={() => navigate('/webhooks')}
        />
      ) : null}
    </>
  );
}
