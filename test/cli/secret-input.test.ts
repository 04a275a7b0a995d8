/**
 * How `cred put` and `cred rotate` read a value: piped stdin, or a prompt that does not echo.
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readCredentialValue } from '../../src/cli/secret-input.js';

const SECRET = 'sk_live_do-not-print-me';

function piped(text: string) {
  const written: string[] = [];
  return {
    stdin: Readable.from([Buffer.from(text)]),
    prompt: { write: (t: string) => written.push(t) },
    written,
  };
}

function terminal() {
  const rawModes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode: (on: boolean) => rawModes.push(on),
  });
  const written: string[] = [];
  return { stdin, prompt: { write: (t: string) => written.push(t) }, written, rawModes };
}

describe('readCredentialValue from piped stdin', () => {
  it('takes a string type as is, minus one trailing line break', async () => {
    expect(await readCredentialValue('api_key', 'stripe', piped(`${SECRET}\n`))).toBe(SECRET);
    expect(await readCredentialValue('api_key', 'stripe', piped(`${SECRET}\r\n`))).toBe(SECRET);
    expect(await readCredentialValue('ssh_key', 'deploy', piped('line 1\nline 2\n\n'))).toBe(
      'line 1\nline 2\n',
    );
  });

  it('parses a structured type as JSON and writes no prompt', async () => {
    const io = piped(`{ "username": "app",\n  "password": "${SECRET}" }\n`);
    expect(await readCredentialValue('basic_auth', 'db', io)).toEqual({ username: 'app', password: SECRET });
    expect(io.written).toEqual([]);
  });

  it('refuses JSON that does not parse without quoting it', async () => {
    const err = await readCredentialValue('basic_auth', 'db', piped(`{"password": ${SECRET}}`)).catch(
      (e) => e,
    );
    expect((err as Error).message).toBe(
      'the value of a basic_auth credential must be JSON; what was given is not',
    );
  });

  it('refuses an empty value', async () => {
    await expect(readCredentialValue('api_key', 'stripe', piped('\n'))).rejects.toThrow(
      /no value given for stripe/,
    );
    await expect(readCredentialValue('generic', 'cfg', piped(' \n'))).rejects.toThrow(
      /no value given for cfg/,
    );
  });
});

describe('readCredentialValue at a terminal', () => {
  it('prompts on the prompt stream, reads in raw mode without echo, and honours backspace', async () => {
    const io = terminal();
    const value = readCredentialValue('api_key', 'stripe', io);
    io.stdin.write('sk_x\u007f');
    io.stdin.write('live\r');
    expect(await value).toBe('sk_live');
    expect(io.written.join('')).toBe('Value of stripe (api_key): \n');
    expect(io.rawModes).toEqual([true, false]);
  });

  it('cancels on Ctrl-C, leaving raw mode', async () => {
    const io = terminal();
    const value = readCredentialValue('api_key', 'stripe', io);
    io.stdin.write('sk\u0003');
    await expect(value).rejects.toThrow('cancelled');
    expect(io.rawModes).toEqual([true, false]);
  });
});
