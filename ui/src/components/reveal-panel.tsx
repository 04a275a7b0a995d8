/**
 * Reveal: a reason first (the access log records it), then the value, masked until "Show". The
 * value lives in this component's state only: it is rendered only while shown, and dropped after
 * {@link CLEAR_AFTER_MS}, on "Clear", and when the panel unmounts (navigation). It never goes into
 * a URL or storage.
 */
import { useEffect, useState } from 'preact/hooks';
import type { CredentialResource } from '../../../src/client/index.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { fieldsOf } from './credential-types.js';
import { Problem } from './problem.js';
import { Button, CopyButton, TextField } from './ui.js';
import { useAction } from './use-async.js';

/** How long a revealed value stays on the page. */
export const CLEAR_AFTER_MS = 30_000;

interface Revealed {
  version: number;
  fields: { name: string; label: string; text: string }[];
  /** The whole value as the API answered it, for "Copy value" (JSON for an object). */
  whole: string;
}

const MASK = '••••••••••••';

export function RevealPanel({ credential }: { credential: CredentialResource }) {
  const { client, can } = useSession();
  const [reason, setReason] = useState('');
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [shown, setShown] = useState(false);
  const [cleared, setCleared] = useState(false);
  const reveal = useAction((why: string) => client.revealCredential(credential.id, { reason: why }));

  // Dropped after 30 s; the unmount of the panel drops the state with it.
  useEffect(() => {
    if (!revealed) return;
    const t = setTimeout(() => {
      setRevealed(null);
      setShown(false);
      setCleared(true);
    }, CLEAR_AFTER_MS);
    return () => clearTimeout(t);
  }, [revealed]);

  const clear = () => {
    setRevealed(null);
    setShown(false);
  };

  return (
    <section class="panel reveal-panel" aria-labelledby="reveal-heading">
      <h2 id="reveal-heading">Reveal the value</h2>
      {revealed ? (
        <>
          <p class="notice" role="status">
            This reveal of version {revealed.version} was recorded in the access log with your reason
            {can('audit:read') ? (
              <>
                {' '}
                (
                <Link href={`/audit?credentialId=${encodeURIComponent(credential.id)}`}>
                  see the access log
                </Link>
                )
              </>
            ) : null}
            . The value is cleared from the page after 30 seconds.
          </p>
          <dl class="revealed">
            {revealed.fields.map((f) => (
              <div key={f.name} class="revealed-field">
                <dt>{f.label}</dt>
                <dd>
                  {shown ? (
                    <code class="secret" data-testid={`revealed-${f.name}`}>
                      {f.text}
                    </code>
                  ) : (
                    <span class="secret masked">
                      <span aria-hidden="true">{MASK}</span>
                      <span class="sr-only">hidden</span>
                    </span>
                  )}
                  {revealed.fields.length > 1 ? (
                    <CopyButton text={() => f.text} label={`Copy ${f.label.toLowerCase()}`} />
                  ) : null}
                </dd>
              </div>
            ))}
          </dl>
          <div class="actions">
            <Button kind="primary" onClick={() => setShown(!shown)} aria-pressed={shown}>
              {shown ? 'Hide' : 'Show'}
            </Button>
            <CopyButton text={() => revealed.whole} label="Copy value" />
            <Button onClick={clear}>Clear</Button>
          </div>
        </>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!reason.trim()) return;
            const answer = await reveal.run(reason.trim());
            if (!answer) return;
            setCleared(false);
            setShown(false);
            setReason('');
            setRevealed({
              version: answer.version,
              fields: fieldsOf(answer.type, answer.value),
              whole: typeof answer.value === 'string' ? answer.value : JSON.stringify(answer.value, null, 2),
            });
          }}
        >
          {cleared ? (
            <p class="muted" role="status">
              The value was cleared from the page after 30 seconds. Reveal it again if you still need it.
            </p>
          ) : null}
          <TextField
            label="Reason"
            value={reason}
            onValue={setReason}
            required
            maxLength={500}
            autoComplete="off"
            hint="Why you need the value: recorded in the access log with this reveal."
          />
          <Problem error={reveal.error} />
          <Button kind="primary" type="submit" pending={reveal.pending} disabled={!reason.trim()}>
            Reveal
          </Button>
        </form>
      )}
    </section>
  );
}
