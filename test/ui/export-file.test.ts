/** The console's access-log CSV: RFC 4180 quoting, and no formula a spreadsheet would run. */
import { describe, expect, it } from 'vitest';
import { toCsv, toJsonl } from '../../ui/src/components/export-file.js';

describe('the access-log export files', () => {
  it('quotes fields with commas, quotes, line breaks and edge spaces, CRLF between records', () => {
    const csv = toCsv([{ a: 'x, "y"', b: 'two\nlines', c: ' pad', d: null }], ['a', 'b', 'c', 'd']);
    expect(csv).toBe('a,b,c,d\r\n"x, ""y""","two\nlines"," pad",\r\n');
  });

  it.each(['=HYPERLINK("http://evil")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx'])(
    'defuses %j, which a spreadsheet would run as a formula',
    (reason) => {
      const [, row] = toCsv([{ reason }], ['reason']).split('\r\n');
      expect(row!.replace(/^"|"$/g, '').startsWith(`'${reason[0]}`)).toBe(true);
    },
  );

  it('keeps JSONL exact, one object a line', () => {
    expect(toJsonl([{ reason: '=1+1' }, { n: 2 }])).toBe('{"reason":"=1+1"}\n{"n":2}\n');
  });
});
