/**
 * The `file` audit sink: JSON Lines appended to a file, rotated by size like a log file.
 *
 * A batch counts as delivered once it is written and flushed to disk (`fdatasync`), so a crash
 * after that loses nothing; a crash before it means the batch is written again (at least once).
 * Before a batch would take the file past `maxBytes`, the file is rotated: `path.{keep-1}` to
 * `path.{keep}` (the oldest is dropped), …, `path` to `path.1`, and a new `path` begun. A batch
 * is never split across files, so one larger than `maxBytes` makes a file of its own.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import type { AuditSink, AuditSinkRecord } from '../core/ports.js';
import { jsonLines } from './json-lines.js';

export interface FileSinkOptions {
  name: string;
  tenantId?: string;
  path: string;
  /** (Default: 104857600) */
  maxBytes?: number;
  /** Rotated files kept. (Default: 5) */
  keep?: number;
}

/** @example new FileSink({ name: 'local', path: '/var/log/credreg/audit.jsonl', maxBytes: 10_485_760 }) */
export class FileSink implements AuditSink {
  readonly name: string;
  readonly tenantId?: string;
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #keep: number;

  constructor(options: FileSinkOptions) {
    this.name = options.name;
    if (options.tenantId) this.tenantId = options.tenantId;
    this.#path = options.path;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#keep = options.keep ?? 5;
  }

  async send(records: readonly AuditSinkRecord[]): Promise<void> {
    const data = Buffer.from(jsonLines(records), 'utf8');
    const size = await stat(this.#path).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0 && size + data.length > this.#maxBytes) await this.#rotate();
    const file = await open(this.#path, 'a', 0o600);
    try {
      await file.writeFile(data);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  async #rotate(): Promise<void> {
    await rm(`${this.#path}.${this.#keep}`, { force: true });
    for (let i = this.#keep - 1; i >= 1; i--) {
      await rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await rename(this.#path, `${this.#path}.1`);
  }
}
