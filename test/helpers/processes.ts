import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

const ENTRY = ['--import', 'tsx', 'src/cli/index.ts'];

/** Runs the CLI from source as a real process; DATABASE_URL is not inherited unless given in `env`. */
export function credreg(args: string[], env: Record<string, string>): ChildProcess {
  const { DATABASE_URL: _ignored, ...rest } = process.env;
  return spawn(process.execPath, [...ENTRY, ...args], {
    env: { ...rest, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Everything a child writes to stdout and stderr, as it arrives. */
export function collect(child: ChildProcess): { out: () => string } {
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  return { out: () => text };
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export const LISTENING = /credreg listening on (http:\/\/[\d.:]+)/;

/** A TCP port free on loopback right now, for a child that must listen where we say. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
