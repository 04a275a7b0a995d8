/**
 * A credential's settings and lifecycle: metadata, expiry and rotation schedule (only what changed
 * is sent), deactivate/activate, soft delete (typed confirmation) and restore.
 */
import { useState } from 'preact/hooks';
import type { CredentialResource, UpdateCredentialBody } from '../../../src/client/index.js';
import { useSession } from '../session.js';
import { metadataFrom, ROTATOR_OPTIONS, type RotatorChoice, SigningSecretNotice } from './credential-form.js';
import { isoToLocal, localToIso } from './datetime.js';
import { Problem } from './problem.js';
import { Button, SelectField, TextArea, TextField, TypedConfirm } from './ui.js';
import { useAction } from './use-async.js';

/** The rotator the form edits: none, one it knows, or `other` (shown, changed elsewhere). */
function rotatorOf(c: CredentialResource): RotatorChoice {
  const type = c.rotation?.rotator.type;
  if (!type) return 'none';
  return type === 'random' || type === 'webhook' ? type : 'other';
}

const webhookUrlOf = (c: CredentialResource) =>
  c.rotation?.rotator.type === 'webhook' && typeof c.rotation.rotator.url === 'string'
    ? c.rotation.rotator.url
    : '';

/**
 * The `rotation` of the update body, only when the form changed it: null removes the rotator; a
 * kept rotator is sent with its settings as they are (its type and options, never a secret).
 */
function rotationChange(
  c: CredentialResource,
  choice: RotatorChoice,
  schedule: string,
  url: string,
): UpdateCredentialBody['rotation'] {
  const was = rotatorOf(c);
  if (choice === 'other') return undefined;
  if (choice === 'none') return was === 'none' ? undefined : null;
  const sameRotator = choice === was && (choice !== 'webhook' || url === webhookUrlOf(c));
  if (sameRotator && schedule === (c.rotation?.schedule ?? '')) return undefined;
  const rotator = sameRotator
    ? c.rotation!.rotator
    : choice === 'webhook'
      ? { type: 'webhook', url }
      : { type: 'random' };
  return { ...(schedule ? { schedule } : {}), rotator };
}

const asJson = (m: Record<string, unknown>) => (Object.keys(m).length ? JSON.stringify(m, null, 2) : '');

export function SettingsForm({
  credential,
  onSaved,
}: {
  credential: CredentialResource;
  onSaved(c: CredentialResource): void;
}) {
  const { client } = useSession();
  const [metadata, setMetadata] = useState(() => asJson(credential.metadata));
  const [expires, setExpires] = useState(() => isoToLocal(credential.expiresAt));
  const current = rotatorOf(credential);
  const [rotator, setRotator] = useState<RotatorChoice>(current);
  const [webhookUrl, setWebhookUrl] = useState(() => webhookUrlOf(credential));
  const [schedule, setSchedule] = useState(
    () => (credential.rotation ? credential.rotation.schedule : credential.rotationSchedule) ?? '',
  );
  const [invalid, setInvalid] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [signingSecret, setSigningSecret] = useState<string | null>(null);
  const save = useAction((body: UpdateCredentialBody) => client.updateCredential(credential.id, body));

  return (
    <form
      class="panel"
      aria-labelledby="settings-heading"
      onSubmit={async (e) => {
        e.preventDefault();
        setInvalid(null);
        setSaved(false);
        const body: UpdateCredentialBody = {};
        if (metadata !== asJson(credential.metadata)) {
          const m = metadataFrom(metadata);
          if ('error' in m) return setInvalid(m.error);
          body.metadata = m.metadata ?? {};
        }
        if (expires !== isoToLocal(credential.expiresAt)) body.expiresAt = localToIso(expires) ?? null;
        const rotation = rotationChange(credential, rotator, schedule.trim(), webhookUrl.trim());
        if (rotation !== undefined) body.rotation = rotation;
        if (rotator === 'none' && schedule.trim() !== (credential.rotationSchedule ?? '')) {
          body.rotationSchedule = schedule.trim() || null;
        }
        if (Object.keys(body).length === 0) return setInvalid('Nothing changed.');
        const c = await save.run(body);
        if (c) {
          setSaved(true);
          setSigningSecret(c.rotation?.signingSecret ?? null);
          onSaved(c);
        }
      }}
    >
      <h2 id="settings-heading">Settings</h2>
      <div class="grid-fields">
        <TextField
          label="Expires at"
          type="datetime-local"
          value={expires}
          onValue={setExpires}
          hint="Empty: never expires"
        />
        <TextField
          label="Rotation schedule"
          value={schedule}
          onValue={setSchedule}
          placeholder="P90D"
          hint={
            rotator === 'none'
              ? 'ISO 8601 duration, e.g. P90D; empty: none'
              : 'ISO 8601 duration or cron expression; empty: on demand only'
          }
          spellcheck={false}
          disabled={rotator === 'other'}
        />
        {rotator === 'other' ? (
          <p class="muted">
            The <code>{credential.rotation?.rotator.type}</code> rotator's settings are changed through the
            API or the CLI.
          </p>
        ) : (
          <SelectField<RotatorChoice>
            label="Rotator"
            value={rotator}
            onValue={(r) => setRotator(r)}
            options={ROTATOR_OPTIONS}
          />
        )}
        {rotator === 'webhook' ? (
          <TextField
            label="Rotation endpoint URL"
            type="url"
            value={webhookUrl}
            onValue={setWebhookUrl}
            required
          />
        ) : null}
      </div>
      <TextArea
        label="Metadata (JSON object)"
        value={metadata}
        onValue={setMetadata}
        hint="Stored in clear and shown in listings: never put a secret here."
        spellcheck={false}
        rows={3}
      />
      {invalid ? (
        <p class="problem" role="alert">
          {invalid}
        </p>
      ) : null}
      <Problem error={save.error} />
      {saved ? (
        <p class="muted" role="status">
          Saved.
        </p>
      ) : null}
      {signingSecret ? (
        <SigningSecretNotice secret={signingSecret} onDismiss={() => setSigningSecret(null)} />
      ) : null}
      <Button kind="primary" type="submit" pending={save.pending}>
        Save settings
      </Button>
    </form>
  );
}

/** Deactivate/activate, delete (restorable for 7 days) and restore. */
export function LifecycleActions({
  credential,
  onChanged,
}: {
  credential: CredentialResource;
  onChanged(c: CredentialResource): void;
}) {
  const { client } = useSession();
  const [confirming, setConfirming] = useState(false);
  const act = useAction(
    async (what: 'activate' | 'deactivate' | 'delete' | 'restore'): Promise<CredentialResource> => {
      if (what === 'delete') return client.deleteCredential(credential.id);
      if (what === 'restore') return client.restoreCredential(credential.id);
      return client.updateCredential(credential.id, { active: what === 'activate' });
    },
  );
  const run = async (what: Parameters<typeof act.run>[0]) => {
    const c = await act.run(what);
    if (c) onChanged(c);
    return c;
  };

  return (
    <section class="panel" aria-labelledby="lifecycle-heading">
      <h2 id="lifecycle-heading">Status</h2>
      {credential.deletedAt ? (
        <div class="actions">
          <Button kind="primary" pending={act.pending} onClick={() => run('restore')}>
            Restore
          </Button>
          <span class="muted">Deleted; it can be restored until it is purged.</span>
        </div>
      ) : (
        <div class="actions">
          {credential.isActive ? (
            <Button pending={act.pending} onClick={() => run('deactivate')}>
              Deactivate
            </Button>
          ) : (
            <Button kind="primary" pending={act.pending} onClick={() => run('activate')}>
              Activate
            </Button>
          )}
          <Button kind="danger" onClick={() => setConfirming(true)}>
            Delete
          </Button>
          <span class="muted">
            {credential.isActive
              ? 'Deactivated, it refuses every reveal and rotation.'
              : 'Inactive: every reveal and rotation is refused.'}
          </span>
        </div>
      )}
      <Problem error={act.error} />
      {confirming ? (
        <TypedConfirm
          what="credential"
          name={credential.name}
          action="Delete"
          pending={act.pending}
          onCancel={() => setConfirming(false)}
          onDone={async () => {
            if (await run('delete')) setConfirming(false);
          }}
        >
          <p>It can be restored during the next 7 days, then it is purged for good.</p>
          <Problem error={act.error} />
        </TypedConfirm>
      ) : null}
    </section>
  );
}
