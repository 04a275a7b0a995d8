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

export function createLogger(level: Config['logLevel'], destination?: NodeJS.WritableStream) {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination as never) : pino(options);
}
