/**
 * The `stdout` audit sink: JSON Lines on standard output, for a container platform's log
 * collector. A batch counts as delivered once the stream has taken it (its write callback).
 * The service's own log is pino's, also on stdout: records carry `type`, pino lines `level`.
 */
import type { Writable } from 'node:stream';
import type { AuditSink, AuditSinkRecord } from '../core/ports.js';
import { jsonLines } from './json-lines.js';

export interface StdoutSinkOptions {
  name: string;
  tenantId?: string;
  /** (Default: `process.stdout`) */
  stream?: Writable;
}

/** @example new StdoutSink({ name: 'console' }) */
export class StdoutSink implements AuditSink {
  readonly name: string;
  readonly tenantId?: string;
  readonly #stream: Writable;

  constructor(options: StdoutSinkOptions) {
    this.name = options.name;
    if (options.tenantId) this.tenantId = options.tenantId;
    this.#stream = options.stream ?? process.stdout;
  }

  send(records: readonly AuditSinkRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#stream.write(jsonLines(records), (err) => (err ? reject(err) : resolve()));
    });
  }
}
