/**
 * Uniformly random strings over an alphabet: the one source of every value a rotator makes up
 * (API keys, database passwords).
 */
import { randomInt } from 'node:crypto';

/** `A–Z a–z 0–9 - _`: safe in a URL's userinfo, a shell word and a SQL literal without escaping. */
export const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const HEX_ALPHABET = '0123456789abcdef';
export const ALPHANUMERIC_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The characters of `alphabet` as code points, so a character outside the BMP counts once. */
export function alphabetSymbols(alphabet: string): string[] {
  return Array.from(alphabet);
}

/** How many bits of entropy `length` symbols drawn from `size` give. */
export function entropyBits(length: number, size: number): number {
  return length * Math.log2(size);
}

/**
 * `length` symbols drawn independently and uniformly from `alphabet`.
 *
 * `randomInt` rejects the draws that would make `byte % size` favour the first symbols, so every
 * symbol is exactly as likely for any alphabet size (a plain modulo of random bytes is not).
 *
 * @example randomString(32, BASE64URL_ALPHABET) // 'q3Zy…' (192 bits)
 */
export function randomString(length: number, alphabet: string): string {
  const symbols = alphabetSymbols(alphabet);
  /* Precondition: the alphabet has at least two distinct symbols and the length is a positive integer. */
  if (new Set(symbols).size !== symbols.length || symbols.length < 2) {
    throw new RangeError('the alphabet must have at least two symbols, each once');
  }
  if (!Number.isSafeInteger(length) || length < 1)
    throw new RangeError('the length must be a positive integer');
  let out = '';
  for (let i = 0; i < length; i++) out += symbols[randomInt(symbols.length)];
  return out;
}
