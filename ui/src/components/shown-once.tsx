import { useId } from 'preact/hooks';
import { Button, CopyButton } from './ui.js';

/**
 * A secret the server returns only once (a token, a webhook's signing secret): shown with a copy
 * button and a clear warning, and gone from the page (and from memory here) when `onDone` runs.
 */
export function ShownOnce({ what, secret, onDone }: { what: string; secret: string; onDone(): void }) {
  const id = useId();
  return (
    <section class="shown-once" aria-labelledby={id}>
      <h3 id={id}>Your new {what}</h3>
      <p class="notice">
        <strong>Copy it now: you will not see it again.</strong> Only a hash of it is kept; if it is lost,
        create a new one.
      </p>
      <code class="secret" data-testid="shown-once">
        {secret}
      </code>
      <div class="actions">
        <CopyButton text={() => secret} label={`Copy ${what}`} />
        <Button kind="primary" onClick={onDone}>
          Done, I have kept it
        </Button>
      </div>
    </section>
  );
}
