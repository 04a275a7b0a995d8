/** Small building blocks every view shares: labelled fields, buttons, states, dialogs. */
import type {
  ButtonHTMLAttributes,
  ComponentChildren,
  InputHTMLAttributes,
  TextareaHTMLAttributes,
} from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** The page's heading, with actions beside it. */
export function PageHeader({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children ? <div class="actions">{children}</div> : null}
    </div>
  );
}

/** The input attributes the console's text fields use. */
interface InputProps {
  type?: 'text' | 'password' | 'search' | 'url' | 'number' | 'datetime-local';
  placeholder?: string;
  required?: boolean;
  disabled?: boolean;
  autoComplete?: string;
  spellcheck?: boolean;
  maxLength?: number;
  min?: number | string;
  max?: number | string;
  name?: string;
}

/**
 * A field's frame: its label, its control (given the id to carry and the hint's id, when there is
 * a hint, for `aria-describedby`) and the hint, read out with the control.
 */
function Field({
  label,
  hint,
  control,
}: {
  label: string;
  hint?: string | undefined;
  control(id: string, describedBy: string | undefined): ComponentChildren;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {control(id, hint ? `${id}-hint` : undefined)}
      {hint ? (
        <small id={`${id}-hint`} class="muted">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

/** A labelled text input; `hint` is read out with it. */
export function TextField({
  label,
  value,
  onValue,
  hint,
  ...rest
}: { label: string; value: string; onValue(v: string): void; hint?: string } & InputProps) {
  return (
    <Field
      label={label}
      hint={hint}
      control={(id, describedBy) => (
        <input
          id={id}
          value={value}
          onInput={(e) => onValue(e.currentTarget.value)}
          aria-describedby={describedBy}
          // Preact types each input `type` apart; these props hold for every type the field takes.
          {...(rest as InputHTMLAttributes<HTMLInputElement>)}
        />
      )}
    />
  );
}

export function TextArea({
  label,
  value,
  onValue,
  hint,
  ...rest
}: { label: string; value: string; onValue(v: string): void; hint?: string } & Omit<
  TextareaHTMLAttributes<HTMLTextAreaElement>,
  'value' | 'onInput'
>) {
  return (
    <Field
      label={label}
      hint={hint}
      control={(id, describedBy) => (
        <textarea
          id={id}
          value={value}
          onInput={(e) => onValue(e.currentTarget.value)}
          aria-describedby={describedBy}
          {...rest}
        />
      )}
    />
  );
}

export function SelectField<T extends string>({
  label,
  value,
  onValue,
  options,
}: {
  label: string;
  value: T;
  onValue(v: T): void;
  options: readonly (T | { value: T; label: string })[];
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onValue(e.currentTarget.value as T)}>
        {options.map((o) => {
          const { value: v, label: l } = typeof o === 'string' ? { value: o, label: o } : o;
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
      </select>
    </div>
  );
}

/** A file picker that hands over the file's text (a PEM): the text stays in memory only. */
export function FileField({
  label,
  onText,
  accept,
}: {
  label: string;
  onText(text: string): void;
  accept?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="file"
        accept={accept}
        onChange={async (e) => {
          const file = e.currentTarget.files?.[0];
          if (file) onText(await file.text());
        }}
      />
    </div>
  );
}

export function Button({
  kind = 'secondary',
  pending = false,
  disabled = false,
  children,
  ...rest
}: {
  kind?: 'primary' | 'secondary' | 'danger';
  pending?: boolean;
  children: ComponentChildren;
} & ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button
      type="button"
      class={`btn btn-${kind}`}
      aria-busy={pending}
      {...rest}
      // After the spread: a running action keeps its button disabled whatever the caller passed,
      // so a double click cannot send it (a reveal, a delete) twice.
      disabled={pending || Boolean(disabled)}
    >
      {children}
    </button>
  );
}

/** Copies `text()` to the clipboard; says so for a moment. The text is never put in the DOM. */
export function CopyButton({ text, label = 'Copy' }: { text: () => string; label?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <Button
      onClick={async () => {
        await navigator.clipboard.writeText(text());
        setCopied(true);
      }}
    >
      {copied ? 'Copied' : label}
    </Button>
  );
}

/**
 * A modal dialog (the native `<dialog>`: focus is kept inside, Escape closes it). Closing it calls
 * `onClose`.
 */
export function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose(): void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={id} onClose={onClose} class="dialog">
      <h2 id={id}>{title}</h2>
      {children}
    </dialog>
  );
}

/**
 * A destructive action confirmed by typing a name (as GitHub and AWS ask): the button stays
 * disabled until the text matches.
 */
export function TypedConfirm({
  what,
  name,
  action,
  onDone,
  onCancel,
  pending,
  children,
}: {
  what: string;
  name: string;
  action: string;
  onDone(): void;
  onCancel(): void;
  pending?: boolean;
  /** What the action does, said before the name is asked for (e.g. what else goes with it). */
  children?: ComponentChildren;
}) {
  const [typed, setTyped] = useState('');
  return (
    <Dialog title={`${action} ${what} "${name}"?`} onClose={onCancel}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (typed === name) onDone();
        }}
      >
        {children}
        <TextField label={`Type ${name} to confirm`} value={typed} onValue={setTyped} autoComplete="off" />
        <div class="actions">
          <Button onClick={onCancel}>Cancel</Button>
          <Button kind="danger" type="submit" disabled={typed !== name} pending={pending}>
            {action}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function Badge({
  tone = 'neutral',
  children,
}: {
  tone?: 'neutral' | 'warn' | 'bad' | 'good';
  children: ComponentChildren;
}) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/** An ISO instant as local date and time, with the exact instant on hover. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString()}
    </time>
  );
}
