/**
 * Rotate: a new value typed into the type's form, or "Run the rotator" when the credential has one.
 * A new value is check-and-set on the version shown, so a rotation made elsewhere meanwhile is refused.
 */
import { useState } from 'preact/hooks';
import type { CredentialResource, RotationResult } from '../../../src/client/index.js';
import { useSession } from '../session.js';
import { ValueFields } from './credential-form.js';
import { type FieldTexts, valueFrom } from './credential-types.js';
import { Problem } from './problem.js';
import { Button } from './ui.js';
import { useAction } from './use-async.js';

export function RotatePanel({
  credential,
  onRotated,
}: {
  credential: CredentialResource;
  onRotated(r: RotationResult): void;
}) {
  const { client } = useSession();
  const [open, setOpen] = useState(false);
  const [texts, setTexts] = useState<FieldTexts>({});
  const [invalid, setInvalid] = useState<string | null>(null);
  // The API runs the rotator only for a body with nothing in it: no check-and-set then.
  const rotate = useAction((value?: unknown) =>
    client.rotateCredential(
      credential.id,
      value === undefined ? {} : { value: value as never, expectedVersion: credential.currentVersion },
    ),
  );
  const done = (r: RotationResult | undefined) => {
    if (!r) return;
    setTexts({});
    setOpen(false);
    onRotated(r);
  };

  return (
    <section class="panel" aria-labelledby="rotate-heading">
      <h2 id="rotate-heading">Rotate</h2>
      <p class="muted">
        Makes a new version (now version {credential.currentVersion}) the current one; the old ones are kept
        as the vault's retention allows.
      </p>
      {credential.rotation ? (
        <div class="actions">
          <Button kind="primary" pending={rotate.pending} onClick={async () => done(await rotate.run())}>
            Run the rotator
          </Button>
          <span class="muted">
            The <code>{credential.rotation.rotator.type}</code> rotator makes the new value.
          </span>
        </div>
      ) : null}
      {open ? (
        <form
          aria-label="Rotate with a new value"
          onSubmit={async (e) => {
            e.preventDefault();
            setInvalid(null);
            const v = valueFrom(credential.type, texts);
            if ('error' in v) return setInvalid(v.error);
            done(await rotate.run(v.value));
          }}
        >
          <ValueFields type={credential.type} texts={texts} onTexts={setTexts} />
          {invalid ? (
            <p class="problem" role="alert">
              {invalid}
            </p>
          ) : null}
          <div class="actions">
            <Button kind="primary" type="submit" pending={rotate.pending}>
              Rotate to this value
            </Button>
            <Button
              onClick={() => {
                setTexts({});
                setOpen(false);
              }}
            >
              Cancel
            </Button>
          </div>
        </form>
      ) : (
        <div class="actions">
          <Button onClick={() => setOpen(true)}>Rotate with a new value</Button>
        </div>
      )}
      <Problem error={rotate.error} />
    </section>
  );
}
