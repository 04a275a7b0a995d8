import { describe, expect, it } from 'vitest';
import { randomRotator, randomSettings } from '../../src/rotators/random.js';
import { BASE64URL_ALPHABET, randomString } from '../../src/rotators/random-string.js';
import { describeRotator, rotationContext } from './conformance.js';

describeRotator(
  'random',
  async () => ({
    rotator: randomRotator,
    settings: { length: 40, alphabet: 'alphanumeric', prefix: 'sk_live_' },
    fresh: async () =>
      rotationContext(randomRotator, {
        credentialType: 'api_key',
        current: `sk_live_${randomString(40, BASE64URL_ALPHABET)}`,
        settings: { length: 40, alphabet: 'alphanumeric', prefix: 'sk_live_' },
      }),
    secrets: (value) => [String(value).slice('sk_live_'.length)],
  }),
  { target: false },
);

const make = (settings: unknown) =>
  randomRotator.create(
    rotationContext(randomRotator, { credentialType: 'bearer_token', current: 'old', settings }),
  );

describe('random rotator', () => {
  it('makes 32 base64url characters by default, and no prefix', async () => {
    expect(await make({})).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('draws from the alphabet asked for, at the length asked for, after the prefix', async () => {
    expect(await make({ alphabet: 'hex', length: 64 })).toMatch(/^[0-9a-f]{64}$/);
    expect(await make({ alphabet: 'alphanumeric', length: 16 })).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(await make({ alphabet: 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789', length: 26, prefix: 'tok_' })).toMatch(
      /^tok_[A-HJ-NP-Z2-9]{26}$/,
    );
    expect(await make({ alphabet: '😀😁😂😃😄😅😆😇', length: 30 })).toMatch(/^[😀😁😂😃😄😅😆😇]{30}$/u);
    expect(String(await make({ length: 4096 })).length).toBe(4096);
  });

  it('its settings refuse a length out of 16–4096, a repeated or one-character alphabet, and an unprintable one', () => {
    for (const bad of [
      { length: 15 },
      { length: 4097 },
      { length: 32.5 },
      { alphabet: 'aabcdefghijklmnop' },
      { alphabet: 'a' },
      { alphabet: 'ab cd' },
      { alphabet: 'ab\ncd' },
      { prefix: 'has space' },
      { prefix: '' },
    ]) {
      expect(randomSettings.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('its settings refuse an alphabet and length that together carry fewer than 64 bits', () => {
    expect(randomSettings.safeParse({ alphabet: '01', length: 63 }).success).toBe(false);
    expect(randomSettings.safeParse({ alphabet: '01', length: 64 }).success).toBe(true);
    // The named alphabets all pass at the shortest length.
    for (const alphabet of ['hex', 'alphanumeric', 'base64url']) {
      expect(randomSettings.safeParse({ alphabet, length: 16 }).success).toBe(true);
    }
  });

  it('draws every symbol equally often, even for an alphabet size that does not divide 256', () => {
    // 200 symbols: a byte taken modulo 200 would make the first 56 twice as likely as the rest,
    // which this chi-square test shows at once. Its limit is about six standard deviations above
    // the expected 199 (199 degrees of freedom), so a fair draw all but never exceeds it.
    const alphabet = Array.from({ length: 200 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    const draws = 200_000;
    const counts = new Map<string, number>();
    for (const ch of randomString(draws, alphabet)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(200);
    const expected = draws / 200;
    let chiSquare = 0;
    for (const n of counts.values()) chiSquare += (n - expected) ** 2 / expected;
    expect(chiSquare).toBeLessThan(320);
  });
});
