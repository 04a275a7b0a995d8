/**
 * The forms that take a credential's value, one per type (its fields, not raw JSON), and the form
 * that creates a credential. What is typed stays in component state and is dropped once sent.
 */
import { useState } from 'preact/hooks';
import type { StoredCredentialResource } from '../../../src/client/index.js';
import { useSession } from '../session.js';
import {
  CREDENTIAL_TYPES,
  type CredentialType,
  type FieldTexts,
  FORM_FIELDS,
  TYPE_LABELS,
  valueFrom,
} from './credential-types.js';
import { localToIso } from './datetime.js';
import { Problem } from './problem.js';
import { Button, CopyButton, FileField, SelectField, TextArea, TextField } from './ui.js';
import { useAction } from './use-async.js';

/** The inputs of one type's value. */
export function ValueFields({
  type,
  texts,
  onTexts,
}: {
  type: CredentialType;
  texts: FieldTexts;
  onTexts(t: FieldTexts): void;
}) {
  const set = (name: string) => (v: string) => onTexts({ ...texts, [name]: v });
  return (
    <fieldset class="value-fields">
      <legend>Value ({TYPE_LABELS[type]})</legend>
      {FORM_FIELDS[type].map((f) => {
        const label = f.required ? f.label : `${f.label} (optional)`;
        const value = texts[f.name] ?? '';
        if (f.input === 'pem' || f.input === 'multiline' || f.input === 'json') {
          return (
            <div key={f.name} class="pem-field">
              <TextArea
                label={label}
                value={value}
                onValue={set(f.name)}
                hint={f.hint}
                spellcheck={false}
                autoComplete="off"
                required={f.required}
                rows={f.input === 'json' ? 5 : 4}
              />
              {f.input === 'pem' ? (
                <FileField
                  label={`${f.label}: read from a file`}
                  onText={set(f.name)}
                  accept=".pem,.crt,.key,.cer,.txt,*/*"
                />
              ) : null}
            </div>
          );
        }
        return (
          <TextField
            key={f.name}
            label={label}
            value={value}
            onValue={set(f.name)}
            hint={f.hint}
            type={f.input === 'secret' ? 'password' : f.input === 'url' ? 'url' : 'text'}
            autoComplete={f.input === 'secret' ? 'new-password' : 'off'}
            spellcheck={false}
            required={f.required}
          />
        );
      })}
    </fieldset>
  );
}

/** A checkbox with its label. */
export function CheckField({
  label,
  checked,
  onChecked,
}: {
  label: string;
  checked: boolean;
  onChecked(v: boolean): void;
}) {
  return (
    <label class="check-field">
      <input type="checkbox" checked={checked} onChange={(e) => onChecked(e.currentTarget.checked)} />
      {label}
    </label>
  );
}

/** The rotators the forms offer; `other`: one set through the API (shown, not edited here). */
export type RotatorChoice = 'none' | 'random' | 'webhook' | 'other';

export const ROTATOR_OPTIONS: { value: RotatorChoice; label: string }[] = [
  { value: 'none', label: 'None (rotate by hand)' },
  { value: 'random', label: 'Random value' },
  { value: 'webhook', label: 'Webhook' },
];

/** Metadata typed as a JSON object; an error message when it is not one. */
export function metadataFrom(text: string): { metadata?: Record<string, unknown> } | { error: string } {
  if (!text.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { error: 'Metadata must be a JSON object ({…}).' };
    }
    return { metadata: parsed as Record<string, unknown> };
  } catch {
    return { error: 'Metadata is not valid JSON.' };
  }
}

/** Creates a credential in `vaultId`; `onCreated` gets the answer (with a webhook rotator's signing secret). */
export function CreateCredentialForm({
  vaultId,
  onCreated,
  onCancel,
}: {
  vaultId: string;
  onCreated(c: StoredCredentialResource): void;
  onCancel(): void;
}) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [type, setType] = useState<CredentialType>('api_key');
  const [texts, setTexts] = useState<FieldTexts>({});
  const [metadata, setMetadata] = useState('');
  const [expires, setExpires] = useState('');
  const [schedule, setSchedule] = useState('');
  const [rotator, setRotator] = useState<RotatorChoice>('none');
  const [webhookUrl, setWebhookUrl] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const store = useAction((body: Parameters<typeof client.storeCredential>[1]) =>
    client.storeCredential(vaultId, body),
  );

  return (
    <form
      class="panel"
      aria-label="New credential"
      onSubmit={async (e) => {
        e.preventDefault();
        setInvalid(null);
        const v = valueFrom(type, texts);
        if ('error' in v) return setInvalid(v.error);
        const m = metadataFrom(metadata);
        if ('error' in m) return setInvalid(m.error);
        const expiresAt = localToIso(expires);
        const body = {
          name: name.trim(),
          type,
          value: v.value,
          ...m,
          ...(expiresAt ? { expiresAt } : {}),
          ...(rotator === 'none' && schedule.trim() ? { rotationSchedule: schedule.trim() } : {}),
          ...(rotator !== 'none'
            ? {
                rotation: {
                  ...(schedule.trim() ? { schedule: schedule.trim() } : {}),
                  rotator:
                    rotator === 'webhook' ? { type: 'webhook', url: webhookUrl.trim() } : { type: 'random' },
                },
              }
            : {}),
        };
        const created = await store.run(body as never);
        if (created) {
          setTexts({});
          onCreated(created);
        }
      }}
    >
      <h2>New credential</h2>
      <div class="grid-fields">
        <TextField
          label="Name"
          value={name}
          onValue={setName}
          required
          autoComplete="off"
          spellcheck={false}
          hint="Letters, digits, “.”, “_” or “-”"
        />
        <SelectField
          label="Type"
          value={type}
          onValue={(t) => {
            setType(t);
            setTexts({});
          }}
          options={CREDENTIAL_TYPES.map((t) => ({ value: t, label: TYPE_LABELS[t] }))}
        />
      </div>
      <ValueFields type={type} texts={texts} onTexts={setTexts} />
      <div class="grid-fields">
        <TextField label="Expires at (optional)" type="datetime-local" value={expires} onValue={setExpires} />
        <TextField
          label="Rotation schedule (optional)"
          value={schedule}
          onValue={setSchedule}
          placeholder="P90D"
          hint="ISO 8601 duration in weeks, days or hours, e.g. P90D"
          spellcheck={false}
        />
        <SelectField<RotatorChoice>
          label="Rotator"
          value={rotator}
          onValue={(r) => setRotator(r)}
          options={ROTATOR_OPTIONS}
        />
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
        label="Metadata (optional, JSON object)"
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
      <Problem error={store.error} />
      <div class="actions">
        <Button kind="primary" type="submit" pending={store.pending}>
          Create credential
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

/** A webhook rotator's signing secret, shown this once with a copy button. */
export function SigningSecretNotice({ secret, onDismiss }: { secret: string; onDismiss(): void }) {
  return (
    // A labelled region, not a live one: a screen reader must not read the secret out unasked.
    <section class="notice" aria-label="Signing secret">
      <p>
        <strong>The rotation endpoint's signing secret, shown this once.</strong> Give it to the endpoint: it
        verifies the registry's requests with it (Standard Webhooks).
      </p>
      <code class="secret">{secret}</code>
      <div class="actions">
        <CopyButton text={() => secret} label="Copy signing secret" />
        <Button onClick={onDismiss}>Done</Button>
      </div>
    </section>
  );
}
