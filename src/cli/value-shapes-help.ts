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
    'Or field by field, without JSON: --field name=value, or --field name=@path to read a file as it',
    'is (a trailing newline kept; best for secrets, which after = show in process lists and shell',
    'history); a certificate takes --cert-file, --key-file and --chain-file. Each field once; stdin',
    'is not read then; a list field (scopes) needs JSON.',
    '',
    'e.g. echo \'{"username":"app","password":"…"}\' | credreg cred put <vault> db --type basic_auth',
    '     credreg cred put <vault> db --type basic_auth --field username=app --field password=@pw.txt',
    '     credreg cred put <vault> tls --type certificate --cert-file tls.pem --key-file tls.key',
  ].join('\n');
}
