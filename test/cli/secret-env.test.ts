import { describe, expect, it } from 'vitest';
import {
  dotenvLine,
  envName,
  envText,
  formatExport,
  parseEnvAssignment,
  selectedText,
  vaultVariables,
  yamlLine,
} from '../../src/cli/secret-env.js';

describe('the naming rule and formats of credreg run / export', () => {
  it('upper-cases a name and turns every character but A-Z, 0-9 and _ into _', () => {
    expect(envName('stripe-key')).toBe('STRIPE_KEY');
    expect(envName('db.main', 'password')).toBe('DB_MAIN_PASSWORD');
    expect(envName('é-x')).toBe('__X');
  });

  it('maps text to one variable and a structured value to one per field, numbers and objects as text', () => {
    expect(vaultVariables('k', 'v')).toEqual([['K', 'v']]);
    expect(vaultVariables('db', { username: 'u', password: 'p' })).toEqual([
      ['DB_USERNAME', 'u'],
      ['DB_PASSWORD', 'p'],
    ]);
    expect([envText(42), envText(false), envText(['a'])]).toEqual(['42', 'false', '["a"]']);
  });

  it('#field on text or an unknown field is a usage error naming the field, not the value', () => {
    expect(() => selectedText('s3cret', 'password', 'X')).toThrow(/#password selects a field/);
    expect(() => selectedText({ a: 's3cret' }, 'b', 'X')).toThrow(/no field "b" \(it has: a\)/);
    expect(selectedText({ a: 1 }, 'a', 'X')).toBe('1');
    expect(selectedText({ a: 1 }, undefined, 'X')).toBe('{"a":1}');
  });

  it('refuses an --env without a variable name or a credential', () => {
    expect(parseEnvAssignment('A_1=payments/x#f')).toEqual({ name: 'A_1', ref: 'payments/x#f' });
    for (const bad of ['payments/x', '=x', '1A=x', 'A-B=x', 'A='])
      expect(() => parseEnvAssignment(bad)).toThrow();
  });

  it('escapes dotenv and YAML values', () => {
    expect(dotenvLine('A', 'x"$y\\z\nw\r')).toBe('A="x\\"\\$y\\\\z\\nw\\r"');
    expect(yamlLine('NULL', 'a"\n')).toBe('"NULL": "a\\"\\n"');
    expect(formatExport('yaml', [])).toBe('{}\n');
    expect(formatExport('json', [['A', '1']])).toBe('{\n  "A": "1"\n}\n');
  });
});
