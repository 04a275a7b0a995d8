/**
 * `credreg serve` as an operator runs it: a real process, its own environment, on 127.0.0.1:0.
 * The port is read from the "credreg listening on" line when the log level prints it, or else
 * from the kernel (the process's listening socket in /proc), so CREDREG_LOG_LEVEL=warn works too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const LISTENING = /credreg listening on (http:\/\/[\d.:]+)/;
const BOOTSTRAP_TOKEN = /platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/;
/** What a child keeps of its output: enough for a failure report, bounded for a long soak. */
const OUTPUT_LIMIT = 256 * 1024;

/** Every child still running, so an exit or Ctrl-C can kill them all. */
const live = new Set<ChildProcess>();

/** Kills every service process still running (SIGKILL); synchronous, for `process.on('exit')`. */
export function killAllServices(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export interface ServiceSpec {
  /** Environment for the service on top of PATH and HOME (nothing else is inherited). */
  env: Record<string, string>;
  /** `serve --migrate` instead of `serve`. (Default: false) */
  migrate?: boolean;
  /** Run the built CLI (`bin/credreg.js`, after `npm run build`) instead of the sources through tsx. */
  built?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The CLI's command line: the built entry point, or the sources as the tests run them. */
function cliArgs(built: boolean | undefined, args: string[]): string[] {
  return built ? ['bin/credreg.js', ...args] : ['--import', 'tsx', 'src/cli/index.ts', ...args];
}

/** The environment a child gets: no DATABASE_URL or CREDREG_* of ours, only what the spec says. */
function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const v = process.env[name];
    if (v) base[name] = v;
  }
  return { ...base, ...env };
}

/** Runs a one-shot CLI command (`migrate`, …) to completion; rejects with its output on failure. */
export function runCli(args: string[], spec: ServiceSpec, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(spec.built, args), {
      cwd: REPO_ROOT,
      env: childEnv(spec.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (code === 0) resolve(out);
      else
        reject(new Error(`credreg ${args.join(' ')} exited ${code ?? signal}: ${out.trim().slice(-2000)}`));
    });
  });
}

/** One running `credreg serve`. */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `http://127.0.0.1:PORT` once listening. */
  base = '';
  /** The platform admin token, when this process created it (first start of an empty store). */
  bootstrapToken: string | undefined;
  /** Resolves once the process has exited, however. */
  readonly exited: Promise<Exit>;
  /** Set by `kill()`: an exit after it is the one we asked for. */
  #expectExit = false;
  #output = '';
  #unexpected: Exit | undefined;

  private constructor(spec: ServiceSpec) {
    this.child = spawn(
      process.execPath,
      cliArgs(spec.built, ['serve', ...(spec.migrate ? ['--migrate'] : [])]),
      {
        cwd: REPO_ROOT,
        env: childEnv(spec.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    live.add(this.child);
    this.pid = this.child.pid ?? -1;
    const keep = (d: Buffer) => {
      this.#output += d.toString();
      if (this.#output.length > OUTPUT_LIMIT) this.#output = this.#output.slice(-OUTPUT_LIMIT / 2);
      this.bootstrapToken ??= BOOTSTRAP_TOKEN.exec(this.#output)?.[1];
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        const exit = { code, signal };
        if (!this.#expectExit) this.#unexpected = exit;
        resolve(exit);
      }),
    );
  }

  /**
   * Starts the service and resolves once it listens. Rejects, with the process's own words, when it
   * exits first or is not listening after `timeoutMs`.
   */
  static async start(spec: ServiceSpec, timeoutMs = 60_000): Promise<ServiceProcess> {
    const s = new ServiceProcess(spec);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = LISTENING.exec(s.#output);
      const port = m ? undefined : listeningPort(s.pid);
      if (m?.[1] || port) {
        s.base = m?.[1] ?? `http://127.0.0.1:${port}`;
        return s;
      }
      const exit = s.child.exitCode !== null || s.child.signalCode !== null;
      if (exit || Date.now() > until) {
        if (!exit) s.kill('SIGKILL');
        const e = await s.exited;
        throw new ServiceStartError(
          exit
            ? `credreg serve exited ${e.code ?? e.signal} before listening`
            : 'credreg serve did not listen in time',
          s.output(),
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal; the exit it causes is not counted as a death. */
  kill(signal: NodeJS.Signals): void {
    this.#expectExit = true;
    this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 40_000): Promise<Exit> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** An exit nobody asked for (a crash), if there was one. */
  get unexpectedExit(): Exit | undefined {
    return this.#unexpected;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident set size in MiB (VmRSS in /proc/PID/status); undefined once the process is gone. */
  rssMb(): number | undefined {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** What the process wrote on stdout and stderr (the latest part, for a long run). */
  output(): string {
    return this.#output;
  }
}

export class ServiceStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}: ${lastLines(output, 5)}`);
  }
}

/** The last `n` non-empty lines of a log, joined by " | ", for a one-line report. */
export function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .slice(-n)
    .join(' | ');
}

/**
 * The TCP port `pid` listens on, from the kernel: the inodes of its sockets (/proc/PID/fd) matched
 * against the IPv4 listening sockets (/proc/net/tcp, state 0A).
 */
function listeningPort(pid: number): number | undefined {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined; // closed meanwhile
          }
        })
        .filter((i): i is string => i !== undefined),
    );
  } catch {
    return undefined;
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (f[3] === '0A' && f[9] && inodes.has(f[9])) return Number.parseInt(f[1]!.split(':')[1]!, 16);
  }
  return undefined;
}
