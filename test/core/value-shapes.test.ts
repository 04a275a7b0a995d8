import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { valueShapesHelp } from '../../src/cli/value-shapes-help.js';
import { isRegistryError } from '../../src/core/errors.js';
import { CREDENTIAL_TYPES } from '../../src/core/types.js';
import { parseValue } from '../../src/core/validation.js';
import { valueShape, valueShapes } from '../../src/core/value-shapes.js';

/** The issues parseValue reports for a value it refuses. */
function issuesOf(type: Parameters<typeof parseValue>[0], value: unknown) {
  try {
    parseValue(type, value);
  } catch (err) {
    if (isRegistryError(err)) return err.issues;
    throw err;
  }
  throw new Error('accepted');
}

describe('value shapes', () => {
  it('a missing field is reported as missing, not as the wrong type', () => {
    expect(issuesOf('basic_auth', { username: 'app' })).toEqual([
      { path: 'value.password', problem: 'is missing' },
    ]);
    expect(issuesOf('certificate', {})).toEqual([
      { path: 'value.cert_pem', problem: 'is missing' },
      { path: 'value.key_pem', problem: 'is missing' },
    ]);
  });

  it('a field of the wrong type is reported as the wrong type, without its value', () => {
    const issues = issuesOf('basic_auth', { username: 'app', password: 12345 });
    expect(issues).toEqual([{ path: 'value.password', problem: 'has the wrong type' }]);
    expect(JSON.stringify(issues)).not.toContain('12345');
    // Present but null, or inside an array: there, not missing.
    expect(issuesOf('basic_auth', { username: 'app', password: null })).toEqual([
      { path: 'value.password', problem: 'has the wrong type' },
    ]);
    expect(issuesOf('oauth2_client', { client_id: 'c', client_secret: 's', scopes: [1] })).toEqual([
      { path: 'value.scopes.0', problem: 'has the wrong type' },
    ]);
  });

  it("lists each type's fields, required or optional, as the core checks them", () => {
    expect(valueShapes().map((s) => s.type)).toEqual([...CREDENTIAL_TYPES]);
    expect(valueShape('api_key')).toMatchObject({ kind: 'text', fields: [] });
    expect(valueShape('generic')).toMatchObject({ kind: 'any-object', fields: [] });
    expect(valueShape('oauth2_token').fields.map((f) => [f.name, f.required])).toEqual([
      ['access_token', true],
      ['refresh_token', false],
      ['expires_at', false],
    ]);
    for (const shape of valueShapes())
      for (const field of shape.fields) expect(field.description, `${shape.type}.${field.name}`).not.toBe('');
  });

  it('`cred put --help` and the README name every type and field, required or optional', async () => {
    const help = valueShapesHelp();
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Value shapes'));
    for (const shape of valueShapes()) {
      const helpLine = help.split('\n').find((l) => l.trim().startsWith(`${shape.type} `)) ?? '';
      const row = section.split('\n').find((l) => l.startsWith(`| \`${shape.type}\` |`)) ?? '';
      expect(helpLine, shape.type).not.toBe('');
      expect(row, shape.type).not.toBe('');
      // The README's row: | type | value | required fields | optional fields |
      const [, , , required = '', optional = ''] = row.split('|');
      for (const field of shape.fields) {
        expect(helpLine, `${shape.type}.${field.name}`).toMatch(
          new RegExp(`[{ ]${field.name}${field.required ? '[,}]' : '\\?'}`),
        );
        expect(field.required ? required : optional, `README ${shape.type}.${field.name}`).toContain(
          `\`${field.name}\``,
        );
      }
    }
  });
});
