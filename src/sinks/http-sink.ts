/**
 * The `http` audit sink: each batch POSTed as `{ "entries": [...] }` (JSON), e.g. to a SIEM's
 * collector, through the SSRF-guarded client the webhooks use. Any 2xx acknowledges the batch;
 * any other answer or a network failure fails it, and it is sent again later, whole.
 */
import type { AuditSink, AuditSinkRecord } from '../core/ports.js';
import type { SafeHttpClient } from '../events/safe-http.js';

export interface HttpSinkOptions {
  name: string;
  tenantId?: string;
  url: string;
  /** Sent with every batch; never logged or put in an error. (Default: none) */
  headers?: Readonly<Record<string, string>>;
  /** The client to send with; its URL policy and timeouts apply. */
  http: Pick<SafeHttpClient, 'request'>;
}

/** @example new HttpSink({ name: 'siem', url: 'https://collector.example.com/credreg', http }) */
export class HttpSink implements AuditSink {
  readonly name: string;
  readonly tenantId?: string;
  readonly #url: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #http: HttpSinkOptions['http'];

  constructor(options: HttpSinkOptions) {
    this.name = options.name;
    if (options.tenantId) this.tenantId = options.tenantId;
    this.#url = options.url;
    this.#headers = options.headers ?? {};
    this.#http = options.http;
  }

  async send(records: readonly AuditSinkRecord[]): Promise<void> {
    const res = await this.#http.request(this.#url, {
      method: 'POST',
      headers: { ...this.#headers, 'content-type': 'application/json' },
      body: JSON.stringify({ entries: records }),
      truncateBody: true,
    });
    // The status only: the collector's body may echo what it was sent, headers included.
    if (res.status < 200 || res.status > 299) throw new Error(`the collector answered ${res.status}`);
  }
}
