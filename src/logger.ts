import { pino } from 'pino';
import type { Config } from './config.js';

/**
 * Paths that could carry a secret if they ever reached a log line. The core never logs values;
 * this is the second line of defence for the HTTP layer and for mistakes.
 */
const REDACT_PATHS = [
  'value',
  '*.value',
  'newValue',
  '*.newValue',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'signingSecret',
  '*.signingSecret',
  'token',
  '*.token',
  'rootKey',
  'pin',
  '*.pin',
  '*.rootKey',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.body',
];

/**
 * A URL with every query value replaced: a caller may put a token or a secret in a query string
 * (by mistake, or a tool that does), and the request log must not keep it. Keys stay, for debugging.
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const pairs = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=[redacted]`;
    });
  return `${url.slice(0, q)}?${pairs.join('&')}`;
}

/** What a request log line says of the request: Fastify's fields, with the query redacted. */
const serializers = {
  req: (req: {
    method?: string;
    url?: string;
    host?: string;
    ip?: string;
    socket?: { remotePort?: number };
  }) => ({
    method: req.method,
    url: redactQuery(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
};

export function createLogger(level: Config['logLevel'], destination?: NodeJS.WritableStream) {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers };
  return destination ? pino(options, destination as never) : pino(options);
}
