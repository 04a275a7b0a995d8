/**
 * `credreg webhook …`: a tenant's webhook subscriptions over the HTTP API (`create`, `list`,
 * `delete`, `deliveries`, `test`, `enable`), and `listen`, a local receiver that verifies and
 * prints what the registry sends (`webhook-listen.ts`).
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { WebhookDeliveryResource, WebhookResource } from '../client/api-types.js';
import { loadWebhookListenConfig } from '../config.js';
import {
  addRemoteOptions,
  connect,
  type ListOptions,
  listing,
  print,
  printPage,
  type RemoteOptions,
} from './remote-commands.js';
import { type Column, formatRecord } from './text-format.js';

/**
 * Adds `credreg webhook …`. Every subcommand but `listen` takes `--addr`, `--token` and `--json`,
 * as the other remote commands do; `listen` talks to no server.
 *
 * @example
 * const program = new Command('credreg');
 * registerWebhookCommands(program);
 * await program.parseAsync(['node', 'credreg', 'webhook', 'list']);
 */
export function registerWebhookCommands(program: Command): Command {
  const webhook = program
    .command('webhook')
    .description("manage your tenant's webhook subscriptions (admin token), or receive them locally");

  webhook
    .command('create')
    .description("subscribe a receiver to your tenant's events; prints its signing secret, shown only once")
    .requiredOption(
      '--url <url>',
      'the receiver: https (http and private addresses only if the server allows)',
    )
    .option(
      '--events <types>',
      'event types to receive, comma-separated, e.g. credential.rotated,credential.expiring (Default: all)',
      eventTypes,
    )
    .action(async (opts: RemoteOptions & { url: string; events?: string[] }) => {
      const created = await connect(opts).createWebhook({ url: opts.url, events: opts.events });
      print(opts, created, () => formatRecord([...webhookFields(created), ['SECRET', created.secret]]));
      if (!opts.json) {
        process.stderr.write(
          `webhook ${created.id}: the secret is shown once; give it to the receiver, which verifies each message with it (credreg webhook listen reads it from CREDREG_WEBHOOK_SECRET)\n`,
        );
      }
    });

  listing(webhook.command('list'))
    .description("list your tenant's subscriptions (never their secrets)")
    .action(async (opts: ListOptions) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listWebhooks(q), WEBHOOK_COLUMNS);
    });

  webhook
    .command('delete')
    .argument('<id>', 'subscription id')
    .description('unsubscribe: its pending deliveries and its secret are deleted')
    .action(async (id: string, opts: RemoteOptions) => {
      await connect(opts).deleteWebhook(id);
      print(opts, { id, deleted: true }, () => `deleted webhook ${id}`);
    });

  listing(webhook.command('deliveries'))
    .argument('<id>', 'subscription id')
    .description("a subscription's deliveries, newest first: status, attempts, the last error")
    .action(async (id: string, opts: ListOptions) => {
      const client = connect(opts);
      await printPage(opts, (q) => client.listWebhookDeliveries(id, q), DELIVERY_COLUMNS);
    });

  webhook
    .command('test')
    .argument('<id>', 'subscription id')
    .description('send a webhook.test event to this subscription only')
    .action(async (id: string, opts: RemoteOptions) => {
      const { eventId } = await connect(opts).testWebhook(id);
      print(
        opts,
        { eventId },
        () => `queued webhook.test ${eventId} for webhook ${id} (credreg webhook deliveries ${id} shows it)`,
      );
    });

  webhook
    .command('enable')
    .argument('<id>', 'subscription id')
    .description('enable a subscription disabled after repeated failed deliveries; it gets new events only')
    .action(async (id: string, opts: RemoteOptions) => {
      const enabled = await connect(opts).enableWebhook(id);
      print(opts, enabled, () => formatRecord(webhookFields(enabled)));
    });

  // Before `listen` is defined: it talks to no server, so it takes none of their options.
  addRemoteOptions(webhook.commands);

  webhook
    .command('listen')
    .description(
      'receive webhooks locally: verify each POST with the secret, print one line per event, answer 204 (401 if it does not verify); until Ctrl-C',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free one', port, 9000)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--secret <whsec>',
      "the subscription's secret (Default: $CREDREG_WEBHOOK_SECRET; prefer it: flags show in shell history and process lists)",
    )
    .option('--json', 'print each verified message as one line of JSON: its webhook-id and the body')
    .action(async (opts: { port: number; host: string; secret?: string; json?: boolean }) => {
      const secret = opts.secret ?? loadWebhookListenConfig().secret;
      if (!secret) {
        throw new Error(
          'no webhook secret: set CREDREG_WEBHOOK_SECRET (or pass --secret) to the whsec_… that `credreg webhook create` printed',
        );
      }
      // Imported here: the receiver's HTTP server and verifier are not needed by any other command.
      const { startWebhookListener } = await import('./webhook-listen.js');
      const listener = await startWebhookListener({
        host: opts.host,
        port: opts.port,
        secret,
        format: opts.json ? 'json' : 'text',
        print: (line) => process.stdout.write(`${line}\n`),
        warn: (line) => process.stderr.write(`credreg: ${line}\n`),
      });
      process.stderr.write(
        `credreg: listening for webhooks on ${listener.url} (any path); subscribe it with credreg webhook create --url ${listener.url}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await listener.close();
    });
  return webhook;
}

function webhookFields(w: WebhookResource): [string, unknown][] {
  return [
    ['ID', w.id],
    ['URL', w.url],
    ['EVENTS', eventsText(w)],
    ['STATUS', statusText(w)],
    ['FAILURES', w.consecutiveFailures],
    ['CREATED', w.createdAt],
    ['CREATED BY', w.createdBy],
  ];
}

const eventsText = (w: WebhookResource) => w.events?.join(',') ?? 'all';
const statusText = (w: WebhookResource) => (w.disabledAt ? `disabled ${w.disabledAt}` : 'enabled');

const WEBHOOK_COLUMNS: Column<WebhookResource>[] = [
  { header: 'ID', cell: (w) => w.id },
  { header: 'URL', cell: (w) => w.url },
  { header: 'EVENTS', cell: eventsText },
  { header: 'STATUS', cell: (w) => (w.disabledAt ? 'disabled' : 'enabled') },
  { header: 'FAILURES', cell: (w) => w.consecutiveFailures },
  { header: 'CREATED', cell: (w) => w.createdAt },
];

const DELIVERY_COLUMNS: Column<WebhookDeliveryResource>[] = [
  { header: 'CREATED', cell: (d) => d.createdAt },
  { header: 'EVENT', cell: (d) => d.eventId },
  { header: 'TYPE', cell: (d) => d.eventType },
  { header: 'STATUS', cell: (d) => d.status },
  { header: 'ATTEMPTS', cell: (d) => d.attempts },
  { header: 'HTTP', cell: (d) => d.lastStatus },
  { header: 'NEXT ATTEMPT', cell: (d) => (d.status === 'pending' ? d.nextAttemptAt : null) },
  { header: 'DELIVERED', cell: (d) => d.deliveredAt },
  { header: 'LAST ERROR', cell: (d) => d.lastError },
];

/** `a,b`: the event types, as typed; the server says which it does not know. */
function eventTypes(text: string): string[] {
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length === 0) {
    throw new InvalidArgumentError('must name at least one event type, e.g. credential.rotated.');
  }
  return types;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65_535) throw new InvalidArgumentError('must be a port, 0 to 65535.');
  return n;
}
