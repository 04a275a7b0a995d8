/**
 * The `random` rotator: a new random string for a secret that the registry itself is the source
 * of (an API key or bearer token the tenant's own service checks against the registry). There is
 * no target to talk to, so `set`, `test` and `finish` have nothing to do.
 */
import { z } from 'zod';
import type { Rotator } from '../core/rotator.js';
import {
  ALPHANUMERIC_ALPHABET,
  alphabetSymbols,
  BASE64URL_ALPHABET,
  entropyBits,
  HEX_ALPHABET,
  randomString,
} from './random-string.js';

const NAMED_ALPHABETS = {
  base64url: BASE64URL_ALPHABET,
  hex: HEX_ALPHABET,
  alphanumeric: ALPHANUMERIC_ALPHABET,
} as const;

/**
 * The floor is what the weakest named alphabet gives at the shortest length (hex, 16 symbols), so
 * no named choice is affected; it only stops a small custom alphabet ("01") from making `length`
 * meaningless.
 */
const MIN_ENTROPY_BITS = 64;

// Control, format and whitespace characters would make a key that breaks headers and copy-paste.
const UNPRINTABLE = /[\p{C}\s]/u;

const customAlphabet = z
  .string()
  .refine((s) => !UNPRINTABLE.test(s), 'must hold printable, non-space characters only')
  .refine((s) => {
    const symbols = alphabetSymbols(s);
    return new Set(symbols).size === symbols.length;
  }, 'must not repeat a character')
  .refine((s) => {
    const n = alphabetSymbols(s).length;
    return n >= 2 && n <= 1024;
  }, 'must have between 2 and 1024 characters');

/**
 * Settings of the `random` rotator.
 *
 * @example { length: 40, alphabet: 'alphanumeric', prefix: 'sk_live_' } // 'sk_live_' + 40 symbols
 */
export const randomSettings = z
  .strictObject({
    /** How many random symbols, not counting the prefix, 16–4096. (Default: 32) */
    length: z.number().int().min(16).max(4096).default(32),
    /** A named alphabet or the characters to draw from (each once). (Default: `base64url`) */
    alphabet: z
      .union([z.enum(['base64url', 'hex', 'alphanumeric']), customAlphabet])
      .default('base64url')
      .describe('base64url, hex, alphanumeric, or a custom set of at least two distinct characters'),
    /** Put in front of the random part as is, e.g. `sk_live_`; not secret, it is shown in metadata. */
    prefix: z
      .string()
      .regex(/^[\x21-\x7e]{1,64}$/, 'must be 1–64 printable ASCII characters without spaces')
      .optional(),
  })
  .refine((s) => entropyBits(s.length, alphabetSymbols(symbolsOf(s.alphabet)).length) >= MIN_ENTROPY_BITS, {
    path: ['length'],
    message: `too short for the alphabet: the random part must carry at least ${MIN_ENTROPY_BITS} bits`,
  });

export type RandomSettings = z.infer<typeof randomSettings>;

function symbolsOf(alphabet: string): string {
  return alphabet in NAMED_ALPHABETS ? NAMED_ALPHABETS[alphabet as keyof typeof NAMED_ALPHABETS] : alphabet;
}

/**
 * Makes API keys and bearer tokens: `prefix` + `length` symbols drawn uniformly from the alphabet.
 * `generic` is left out: its value is a JSON object whose shape only its owner knows.
 *
 * @example
 * const pending = await randomRotator.create(ctx); // 'sk_live_Q2x…'
 */
export const randomRotator: Rotator<RandomSettings> = {
  type: 'random',
  credentialTypes: ['api_key', 'bearer_token'],
  settings: randomSettings,
  async create(ctx) {
    const { length, alphabet, prefix } = ctx.settings;
    return `${prefix ?? ''}${randomString(length, symbolsOf(alphabet))}`;
  },
  // Nothing outside the registry checks these values, so there is nothing to change or prove.
  async set() {},
  async test() {},
  async finish() {},
};
