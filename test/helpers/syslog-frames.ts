/**
 * A syslog collector's side of RFC 6587 octet counting (`MSG-LEN SP SYSLOG-MSG`, MSG-LEN in
 * octets), for the tests' collectors: one reader per connection, fed each chunk it delivers.
 */
import { expect } from 'vitest';

/** Returns a reader: given the next chunk, it answers the messages that chunk completed. */
export function octetCountedReader(): (chunk: Buffer) => string[] {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const messages: string[] = [];
    for (;;) {
      const space = buffered.indexOf(0x20);
      if (space < 0) return messages;
      const length = Number(buffered.subarray(0, space).toString('ascii'));
      expect(Number.isInteger(length) && length > 0).toBe(true);
      if (buffered.length < space + 1 + length) return messages;
      messages.push(buffered.subarray(space + 1, space + 1 + length).toString('utf8'));
      buffered = buffered.subarray(space + 1 + length);
    }
  };
}
