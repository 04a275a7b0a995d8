/**
 * The access log: every attempt on a credential or vault, newest first, filtered by what the URL's
 * query says (filters are ids and names, never secrets), read a page at a time and exported as
 * JSONL or CSV from the same filter.
 */
import { useState } from 'preact/hooks';
import { type AuditEventResource, type AuditQuery, paginate } from '../../../src/client/index.js';
import { ACCESS_ACTIONS, ACCESS_OUTCOMES } from '../../../src/core/types.js';
import { isoToLocal, localToIso } from '../components/datetime.js';
import { downloadText, toCsv, toJsonl } from '../components/export-file.js';
import { Problem } from '../components/problem.js';
import { TableWrap } from '../components/table-wrap.js';
import { Badge, Button, Empty, Loading, PageHeader, SelectField, TextField, When } from '../components/ui.js';
import { useAction } from '../components/use-async.js';
import { usePages } from '../components/use-pages.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';

/** The filters the view reads from (and writes to) the URL query. */
const FILTERS = ['credentialId', 'vaultId', 'actor', 'action', 'outcome', 'from', 'to'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const PAGE_SIZE = 50;
const EXPORT_PAGE_SIZE = 1000;

/** The columns of the CSV export, in order: every field of an entry. */
const CSV_COLUMNS = [
  'occurredAt',
  'action',
  'outcome',
  'actor',
  'actorName',
  'credentialId',
  'vaultId',
  'version',
  'reason',
  'errorCode',
  'sourceIp',
  'userAgent',
  'requestId',
  'clientRequestId',
  'id',
  'tenantId',
] as const satisfies readonly (keyof AuditEventResource)[];

function filtersOf(query: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of FILTERS) {
    const v = query.get(k);
    if (v) f[k] = v;
  }
  return f;
}

const queryOf = (f: Filters) => new URLSearchParams(f as Record<string, string>).toString();

const outcomeTone = (o: string) =>
  o === 'granted' ? 'good' : o === 'denied' || o === 'error' ? 'bad' : 'warn';

export function AuditView() {
  const { client } = useSession();
  const { query } = useLocation();
  const applied = filtersOf(query);
  const key = queryOf(applied);
  const apiQuery = applied as AuditQuery;
  const pages = usePages(
    (cursor) => client.listAudit({ ...apiQuery, limit: PAGE_SIZE, cursor }),
    [client, key],
  );

  const [exported, setExported] = useState<string | undefined>(undefined);
  const exporting = useAction(async (format: 'jsonl' | 'csv') => {
    setExported(undefined);
    const rows: AuditEventResource[] = [];
    for await (const e of paginate((cursor) =>
      client.listAudit({ ...apiQuery, limit: EXPORT_PAGE_SIZE, cursor }),
    )) {
      rows.push(e);
    }
    const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
    if (format === 'jsonl') downloadText(`access-log-${stamp}.jsonl`, 'application/x-ndjson', toJsonl(rows));
    else downloadText(`access-log-${stamp}.csv`, 'text/csv', toCsv(rows, CSV_COLUMNS));
    setExported(
      `Exported ${rows.length} ${rows.length === 1 ? 'entry' : 'entries'} as ${format.toUpperCase()}.`,
    );
  });

  return (
    <>
      <PageHeader title="Access log">
        <Button onClick={() => exporting.run('jsonl')} pending={exporting.pending}>
          Export JSONL
        </Button>
        <Button onClick={() => exporting.run('csv')} pending={exporting.pending}>
          Export CSV
        </Button>
      </PageHeader>
      <p role="status" class="muted">
        {exporting.pending ? 'Exporting what the filters match…' : (exported ?? '')}
      </p>
      <Problem error={exporting.error} />
      <FilterForm key={key} applied={applied} />
      <Problem error={pages.error} />
      {pages.items.length === 0 ? (
        pages.loading ? (
          <Loading />
        ) : pages.error ? null : (
          <Empty>No access-log entries match these filters.</Empty>
        )
      ) : (
        <AuditTable entries={pages.items} />
      )}
      {pages.items.length > 0 && pages.loading ? <Loading /> : null}
      {pages.more && !pages.loading ? (
        <div class="actions">
          <Button onClick={pages.loadMore}>Load more</Button>
        </div>
      ) : null}
    </>
  );
}

function FilterForm({ applied }: { applied: Filters }) {
  const [f, setF] = useState<Filters>(applied);
  const set = (k: keyof Filters) => (v: string) => setF((old) => ({ ...old, [k]: v || undefined }));
  const apply = (next: Filters) => {
    const q = queryOf(Object.fromEntries(Object.entries(next).filter(([, v]) => v)) as Filters);
    navigate(q ? `/audit?${q}` : '/audit');
  };
  return (
    <form
      class="panel filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply(f);
      }}
    >
      <div class="grid-fields">
        <TextField
          label="Credential id"
          value={f.credentialId ?? ''}
          onValue={set('credentialId')}
          spellcheck={false}
        />
        <TextField label="Vault id" value={f.vaultId ?? ''} onValue={set('vaultId')} spellcheck={false} />
        <TextField
          label="Actor"
          value={f.actor ?? ''}
          onValue={set('actor')}
          spellcheck={false}
          hint="A principal id (the id under each name in the Actor column)"
        />
        <SelectField
          label="Action"
          value={f.action ?? ''}
          onValue={set('action')}
          options={[{ value: '', label: 'Any action' }, ...ACCESS_ACTIONS]}
        />
        <SelectField
          label="Outcome"
          value={f.outcome ?? ''}
          onValue={set('outcome')}
          options={[{ value: '', label: 'Any outcome' }, ...ACCESS_OUTCOMES]}
        />
        <TextField
          label="From (inclusive)"
          type="datetime-local"
          value={isoToLocal(f.from)}
          onValue={(v) => set('from')(localToIso(v) ?? '')}
        />
        <TextField
          label="To (exclusive)"
          type="datetime-local"
          value={isoToLocal(f.to)}
          onValue={(v) => set('to')(localToIso(v) ?? '')}
        />
      </div>
      <div class="actions">
        <Button kind="primary" type="submit">
          Apply filters
        </Button>
        <Button onClick={() => apply({})}>Clear</Button>
      </div>
    </form>
  );
}

function AuditTable({ entries }: { entries: AuditEventResource[] }) {
  return (
    <TableWrap label="Access-log entries" wide>
      <table class="audit-table">
        <caption class="visually-hidden">Access-log entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actor</th>
            <th scope="col">Credential</th>
            <th scope="col">Reason</th>
            <th scope="col">Version</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-testid="audit-row">
              <td>
                <When at={e.occurredAt} />
              </td>
              <td>
                <code class="nowrap">{e.action}</code>
              </td>
              <td>
                <Badge tone={outcomeTone(e.outcome)}>{e.outcome}</Badge>
                {e.errorCode ? <div class="muted mono">{e.errorCode}</div> : null}
              </td>
              <td>
                <Link href={`/audit?${queryOf({ actor: e.actor })}`} title={`Only entries of ${e.actor}`}>
                  {e.actorName ?? e.actor}
                </Link>
                {e.actorName ? <div class="muted mono">{e.actor}</div> : null}
              </td>
              <td>
                {e.credentialId ? (
                  <Link href={`/credentials/${encodeURIComponent(e.credentialId)}`} class="mono">
                    {e.credentialId}
                  </Link>
                ) : e.vaultId ? (
                  <span class="muted">vault {e.vaultId}</span>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td>{e.reason ?? <span class="muted">—</span>}</td>
              <td>{e.version ?? <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
