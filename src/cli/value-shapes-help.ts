import { valueShapes } from '../core/value-shapes.js';

/**
 * The value shapes of every credential type, as `credreg cred put --help` shows them after its
 * options: derived from the core's schemas, so the help says what the server accepts.
 */
export function valueShapesHelp(): string {
  const shapes = valueShapes();
  const width = Math.max(...shapes.map((s) => s.type.length));
  const lines = shapes.map((s) => {
    const what =
      s.kind === 'object'
        ? `JSON {${s.fields.map((f) => (f.required ? f.name : `${f.name}?`)).join(', ')}}`
        : s.kind === 'text'
          ? 'text'
          : 'JSON object';
    return `  ${s.type.padEnd(width)}  ${what}: ${s.description}`;
  });
  return [
    '',
    'Value shapes (`?`: optional; text is read as is, one trailing newline dropped):',
    ...lines,
    '',
    'e.g. echo \'{"username":"app","password":"…"}\' | credreg cred put <vault> db --type basic_auth',
  ].join('\n');
}
