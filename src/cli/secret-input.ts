import { STRING_VALUE_TYPES } from '../client/api-types.js';
import type { CredentialType } from '../core/types.js';

/** The slice of `process.stdin` a secret is read from. */
export interface SecretSource extends AsyncIterable<string | Buffer> {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: 'data', listener: (chunk: string) => void): unknown;
  off(event: 'data', listener: (chunk: string) => void): unknown;
}

/** Where the prompt goes: stderr, so that stdout stays clean for pipes. */
export interface PromptSink {
  write(text: string): unknown;
}

/**
 * Reads a credential value, never from the command line (where it would sit in shell history and
 * process lists): from stdin when it is piped, else from a prompt that does not echo. A string
 * type's value is taken as is, minus one trailing line break; any other type's value is JSON.
 */
export async function readCredentialValue(
  type: CredentialType,
  label: string,
  io: { stdin: SecretSource; prompt: PromptSink } = { stdin: process.stdin, prompt: process.stderr },
): Promise<unknown> {
  const isString = STRING_VALUE_TYPES.includes(type);
  const text = io.stdin.isTTY
    ? await promptHidden(
        `Value of ${label} (${type}${isString ? '' : ', JSON on one line; pipe multi-line values in'}): `,
        io.stdin,
        io.prompt,
      )
    : await readAll(io.stdin);
  if (isString) {
    const value = text.replace(/\r?\n$/, '');
    if (value === '')
      throw new Error(`no value given for ${label}: pipe it to stdin or type it at the prompt`);
    return value;
  }
  if (text.trim() === '') throw new Error(`no value given for ${label}: pipe its JSON to stdin`);
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which is the secret: say what is wrong, not where.
    throw new Error(`the value of a ${type} credential must be JSON; what was given is not`);
  }
}

/** All of stdin, as UTF-8 text. */
export async function readAll(stdin: SecretSource): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** A line typed in raw mode, so nothing is echoed; Enter or Ctrl-D ends it, Ctrl-C cancels. */
function promptHidden(question: string, stdin: SecretSource, sink: PromptSink): Promise<string> {
  return new Promise((resolve, reject) => {
    const typed: string[] = [];
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      sink.write('\n');
      if (error) reject(error);
      else resolve(typed.join(''));
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') typed.pop();
        else if (ch >= ' ') typed.push(ch);
      }
    };
    sink.write(question);
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * Reads one secret that is not a credential value (the token `credreg login` stores): from a
 * prompt that does not echo on a terminal, else all of stdin, minus surrounding whitespace.
 */
export async function readSecretLine(
  question: string,
  io: { stdin: SecretSource; prompt: PromptSink } = { stdin: process.stdin, prompt: process.stderr },
): Promise<string> {
  const text = io.stdin.isTTY ? await promptHidden(question, io.stdin, io.prompt) : await readAll(io.stdin);
  return text.trim();
}
