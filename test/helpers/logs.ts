import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger.js';

/** A real pino logger (with the service's redaction) whose output the test can read back. */
export function captureLogs(level: 'info' | 'trace' = 'info') {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger(level, sink), text: () => text };
}
