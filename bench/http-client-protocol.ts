/**
 * The messages between the bench (which runs the HTTP server) and its HTTP client process
 * (bench/http-client.ts), over the fork's IPC channel with structured-clone serialization, so a
 * cell's NaN percentiles survive the trip.
 */
import type { CellResult } from './load.js';

/** Where and as whom the client reveals. */
export interface HttpRevealTarget {
  /** The server's base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  token: string;
  credentialIds: readonly string[];
}

export type ToHttpClient =
  /** One closed-loop run, as `drive` in load.ts; answered by `done` or `failed`. */
  | { kind: 'drive'; target: HttpRevealTarget; concurrency: number; durationMs: number }
  /** Stops the running `drive` as an aborted signal stops it in-process; it still answers. */
  | { kind: 'abort' };

export type FromHttpClient =
  /** Loaded and listening for messages; sent once, first. */
  { kind: 'ready' } | { kind: 'done'; cell: CellResult } | { kind: 'failed'; message: string };
