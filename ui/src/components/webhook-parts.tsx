/** Pieces the two webhook views share: a subscription's state, and its delete confirmation. */
import type { WebhookResource } from '../../../src/client/index.js';
import { useSession } from '../session.js';
import { Problem } from './problem.js';
import { Badge, Button, Dialog } from './ui.js';
import { useAction } from './use-async.js';

export function WebhookState({ webhook }: { webhook: WebhookResource }) {
  if (webhook.disabledAt) return <Badge tone="bad">disabled</Badge>;
  if (webhook.consecutiveFailures > 0)
    return <Badge tone="warn">{webhook.consecutiveFailures} failures in a row</Badge>;
  return <Badge tone="good">enabled</Badge>;
}

export const eventsOf = (webhook: WebhookResource) =>
  webhook.events ? webhook.events.join(', ') : 'every event';

/** Asks before unsubscribing: pending deliveries and the signing secret go with it. */
export function DeleteWebhookDialog({
  webhook,
  onClose,
  onDeleted,
}: {
  webhook: WebhookResource;
  onClose(): void;
  onDeleted(): void;
}) {
  const { client } = useSession();
  const remove = useAction(async () => {
    await client.deleteWebhook(webhook.id);
    onDeleted();
  });
  return (
    <Dialog title="Delete this webhook?" onClose={onClose}>
      <p>
        <code>{webhook.url}</code> receives no more events; its pending deliveries and its signing secret are
        deleted with it.
      </p>
      <Problem error={remove.error} />
      <div class="actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button kind="danger" onClick={() => remove.run()} pending={remove.pending}>
          Delete webhook
        </Button>
      </div>
    </Dialog>
  );
}
