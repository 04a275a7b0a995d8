import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * Signed checkpoints (tree heads) of a per-tenant Merkle log, in the C2SP `tlog-checkpoint` format
 * carried as a C2SP `signed-note` with Ed25519 signatures:
 *
 * ```
 * credreg/audit/<tenant>
 * <tree size>
 * <base64 root hash>
 * time <RFC 3339 UTC, milliseconds>
 *
 * — credreg/audit/<tenant> <base64(key id || signature)>
 * ```
 *
 * Parsing is strict and canonical (one spelling per checkpoint) so that two checkpoints with the
 * same meaning are byte-identical, and a signature can never be stretched over a second reading.
 */

/** One tree head of a tenant's log. */
export interface Checkpoint {
  /** Log identity; also the signing key's name. */
  origin: string;
  /** Number of leaves. */
  treeSize: number;
  /** RFC 9162 Merkle tree root, 32 bytes. */
  rootHash: Buffer;
  /** When the log produced this tree head. */
  time: Date;
}

/** A checkpoint body or signed note that is not in the exact format; `reason` is always 'malformed'. */
export class CheckpointFormatError extends Error {
  /** Stable code for the CLI to map to its own message. */
  readonly reason = 'malformed' as const;
  override readonly name = 'CheckpointFormatError';
}

/** Why a well-formed signed note was refused. */
export type NoteSignatureReason = 'unknown-key' | 'bad-signature';

/** A well-formed note that no candidate key vouches for. */
export class NoteSignatureError extends Error {
  override readonly name = 'NoteSignatureError';
  /**
   * @param message - human-readable detail.
   * @param reason - 'unknown-key' when no signature is by a candidate key, 'bad-signature' when one
   *   is but does not verify.
   */
  constructor(
    message: string,
    readonly reason: NoteSignatureReason,
  ) {
    super(message);
  }
}

const ROOT_HASH_BYTES = 32;
const KEY_ID_BYTES = 4;
const ED25519_PUBLIC_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const SIG_TYPE_ED25519 = 0x01;
const SIG_PREFIX = '\u2014 ';
const TIME_PREFIX = 'time ';
/* C2SP: verifiers SHOULD cap signatures and MUST accept at least 16; Go's x/mod uses 100. */
const MAX_SIGNATURES = 100;

const fail = (message: string): never => {
  throw new CheckpointFormatError(message);
};

/* Quoted and shortened, so an error message never carries a whole attacker-sized line. */
const show = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

/** First offending character below U+0020 other than newline, or -1. */
function controlCharIndex(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return i;
  }
  return -1;
}

/* Lone surrogates cannot be encoded as UTF-8; Buffer would silently replace them with U+FFFD. */
const isWellFormed = (s: string): boolean => Buffer.from(s, 'utf8').toString('utf8') === s;

function checkText(s: string, what: string): void {
  if (!isWellFormed(s)) fail(`${what} is not valid UTF-8 (lone surrogate)`);
  const i = controlCharIndex(s);
  if (i >= 0) {
    const line = s.slice(0, i).split('\n').length;
    const c = s.charCodeAt(i);
    fail(
      c === 0x0d
        ? `${what} line ${line} contains a carriage return (CR); lines end with LF only`
        : `${what} line ${line} contains control character U+${c.toString(16).padStart(4, '0')}`,
    );
  }
}

/** C2SP key names (and our origins): non-empty, no Unicode spaces, no '+'. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (/\s/u.test(name)) return 'contains whitespace';
  if (name.includes('+')) return "contains '+'";
  if (controlCharIndex(name) >= 0) return 'contains a control character';
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64, canonical only: Node's decoder would otherwise accept junk and stray bits. */
function decodeBase64(s: string): Buffer | undefined {
  if (!BASE64.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

const RFC3339_MILLIS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Formats a checkpoint as its note text (each line ending in "\n").
 *
 * @throws CheckpointFormatError when the origin is empty or has whitespace or '+', the tree size is
 *   not a safe integer >= 0, the root hash is not 32 bytes, or the time is invalid or outside years 0–9999.
 */
export function formatCheckpoint(cp: Checkpoint): string {
  const problem = nameProblem(cp.origin);
  if (problem) fail(`origin ${show(cp.origin)} ${problem}`);
  if (!isWellFormed(cp.origin)) fail('origin is not valid UTF-8 (lone surrogate)');
  if (!Number.isSafeInteger(cp.treeSize) || cp.treeSize < 0) {
    fail(`tree size ${cp.treeSize} is not a safe integer >= 0`);
  }
  if (cp.rootHash.length !== ROOT_HASH_BYTES) {
    fail(`root hash is ${cp.rootHash.length} bytes, expected ${ROOT_HASH_BYTES}`);
  }
  const time = Number.isNaN(cp.time.getTime()) ? '' : cp.time.toISOString();
  // toISOString switches to a six-digit signed year outside 0–9999, which RFC 3339 cannot express.
  if (!RFC3339_MILLIS_UTC.test(time)) fail('time is invalid or outside the years 0000–9999');
  const root = Buffer.from(cp.rootHash).toString('base64');
  return `${cp.origin}\n${cp.treeSize}\n${root}\n${TIME_PREFIX}${time}\n`;
}

/**
 * Parses a checkpoint body (the note text, without signatures). Accepts exactly the output of
 * {@link formatCheckpoint}: origin, tree size, root hash and one `time` extension line.
 *
 * @throws CheckpointFormatError naming the line and the problem on anything else.
 */
export function parseCheckpoint(body: string): Checkpoint {
  checkText(body, 'checkpoint');
  if (!body.endsWith('\n')) fail('checkpoint does not end with a newline');
  const lines = body.slice(0, -1).split('\n');
  const names = ['origin', 'tree size', 'root hash', 'time'];
  for (let i = 0; i < names.length; i++) {
    const line = lines[i];
    if (line === undefined) fail(`checkpoint line ${i + 1} (${names[i]}) is missing`);
    if (line === '') fail(`checkpoint line ${i + 1} (${names[i]}) is empty`);
  }
  if (lines.length > names.length) {
    fail(`checkpoint line ${names.length + 1}: unexpected extra line ${show(lines[names.length]!)}`);
  }
  const [origin, size, root, timeLine] = lines as [string, string, string, string];

  const problem = nameProblem(origin);
  if (problem) fail(`checkpoint line 1: origin ${show(origin)} ${problem}`);

  if (!/^(?:0|[1-9][0-9]*)$/.test(size)) {
    fail(
      /^0[0-9]+$/.test(size)
        ? `checkpoint line 2: tree size ${show(size)} has leading zeros`
        : `checkpoint line 2: tree size ${show(size)} is not a decimal number`,
    );
  }
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) fail(`checkpoint line 2: tree size ${size} is not a safe integer`);

  const rootHash = decodeBase64(root);
  if (!rootHash) fail(`checkpoint line 3: root hash ${show(root)} is not canonical standard base64`);
  if (rootHash!.length !== ROOT_HASH_BYTES) {
    fail(`checkpoint line 3: root hash is ${rootHash!.length} bytes, expected ${ROOT_HASH_BYTES}`);
  }

  if (!timeLine.startsWith(TIME_PREFIX)) {
    fail(`checkpoint line 4: expected "time <RFC 3339>", got ${show(timeLine)}`);
  }
  const stamp = timeLine.slice(TIME_PREFIX.length);
  const time = new Date(stamp);
  // The round trip rejects impossible dates (Feb 30) and every spelling but the canonical one.
  if (!RFC3339_MILLIS_UTC.test(stamp) || Number.isNaN(time.getTime()) || time.toISOString() !== stamp) {
    fail(`checkpoint line 4: time ${show(stamp)} is not an RFC 3339 UTC time like 2026-01-02T03:04:05.678Z`);
  }
  return { origin, treeSize, rootHash: rootHash!, time };
}

/**
 * The raw 32-byte Ed25519 public key of a key object; a private key yields its public half.
 *
 * @throws TypeError for secret keys and any other asymmetric key type.
 */
export function ed25519RawPublicKey(key: KeyObject): Buffer {
  if (key.type === 'secret' || key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const x = pub.export({ format: 'jwk' }).x;
  const raw = x === undefined ? undefined : Buffer.from(x, 'base64url');
  if (raw?.length !== ED25519_PUBLIC_BYTES) throw new TypeError('Ed25519 public key is not 32 bytes');
  return raw;
}

function checkKeyName(keyName: string): void {
  const problem = nameProblem(keyName);
  if (problem) throw new CheckpointFormatError(`key name ${show(keyName)} ${problem}`);
}

/**
 * C2SP Ed25519 key id: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || raw public key).
 *
 * @throws CheckpointFormatError for an invalid key name; TypeError for a non-Ed25519 key.
 */
export function noteKeyId(keyName: string, publicKey: KeyObject): Buffer {
  checkKeyName(keyName);
  return createHash('sha256')
    .update(keyName, 'utf8')
    .update(Buffer.from([0x0a, SIG_TYPE_ED25519]))
    .update(ed25519RawPublicKey(publicKey))
    .digest()
    .subarray(0, KEY_ID_BYTES);
}

/**
 * C2SP verifier key string, `<name>+<key id hex>+<base64(0x01 || public key)>`, as read by
 * golang.org/x/mod/sumdb/note and other C2SP tooling.
 */
export function verifierKey(keyName: string, publicKey: KeyObject): string {
  const id = noteKeyId(keyName, publicKey).toString('hex');
  const key = Buffer.concat([Buffer.from([SIG_TYPE_ED25519]), ed25519RawPublicKey(publicKey)]);
  return `${keyName}+${id}+${key.toString('base64')}`;
}

/**
 * Signs a note text and returns the signed note with one signature line.
 *
 * @param body - note text; must end with "\n" and contain no blank line, so the separator is unambiguous.
 * @throws CheckpointFormatError on a malformed body or key name; TypeError if the key is not an Ed25519 private key.
 */
export function signNote(body: string, keyName: string, privateKey: KeyObject): string {
  checkText(body, 'note text');
  if (!body.endsWith('\n')) fail('note text does not end with a newline');
  if (body.startsWith('\n') || body.includes('\n\n')) fail('note text contains a blank line');
  checkKeyName(keyName);
  if (privateKey.type !== 'private') throw new TypeError('signing needs a private key');
  const id = noteKeyId(keyName, privateKey);
  const signature = sign(null, Buffer.from(body, 'utf8'), privateKey);
  return `${body}\n${SIG_PREFIX}${keyName} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

/** One signature line of a note, not yet verified. */
export interface NoteSignature {
  keyName: string;
  /** First 4 bytes of the decoded blob. */
  keyId: Buffer;
  /** The rest of the blob; 64 bytes for Ed25519, other lengths for other signature types. */
  signature: Buffer;
}

/**
 * Splits a signed note into its text and signature lines. Verifies nothing; signatures from other
 * algorithms and unknown keys are kept, since C2SP verifiers must ignore rather than reject them.
 *
 * @throws CheckpointFormatError on control characters, a missing blank-line separator, a malformed
 *   signature line or base64, a signature blob without key id and signature, text after the
 *   signatures, or more than 100 signatures.
 */
export function parseNote(text: string): { body: string; signatures: NoteSignature[] } {
  checkText(text, 'note');
  // C2SP: the text ends at the last blank line.
  const split = text.lastIndexOf('\n\n');
  if (split < 0) fail('note has no blank line separating the text from the signatures');
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (block === '') fail('note has no signature lines');
  if (!block.endsWith('\n')) fail('note does not end with a newline after its last signature');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) fail(`note has ${lines.length} signatures, at most ${MAX_SIGNATURES}`);
  const signatures = lines.map((line, i): NoteSignature => {
    const where = `note signature line ${i + 1}`;
    if (!line.startsWith(SIG_PREFIX)) fail(`${where} ${show(line)} does not start with "— "`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) fail(`${where} has no space between key name and signature`);
    const keyName = rest.slice(0, space);
    const problem = nameProblem(keyName);
    if (problem) fail(`${where}: key name ${show(keyName)} ${problem}`);
    const blob = decodeBase64(rest.slice(space + 1));
    if (!blob) fail(`${where}: signature is not canonical standard base64`);
    if (blob!.length <= KEY_ID_BYTES) fail(`${where}: signature is ${blob!.length} bytes, too short`);
    return { keyName, keyId: blob!.subarray(0, KEY_ID_BYTES), signature: blob!.subarray(KEY_ID_BYTES) };
  });
  return { body, signatures };
}

/**
 * Verifies a signed checkpoint against candidate keys (e.g. every key the tenant ever had) and
 * parses it. A signature counts when its key name equals the checkpoint origin and its key id is a
 * candidate's; all others are ignored. The first one that verifies wins.
 *
 * @param keys - Ed25519 public or private keys; the matching one is returned as given.
 * @throws NoteSignatureError 'unknown-key' when no signature is by a candidate under the origin's
 *   name; 'bad-signature' when such a signature does not verify (C2SP: reject the whole note).
 * @throws CheckpointFormatError when the note or, once authenticated, the checkpoint is malformed.
 */
export function openCheckpoint(
  text: string,
  keys: readonly KeyObject[],
): { checkpoint: Checkpoint; keyId: Buffer; key: KeyObject } {
  const { body, signatures } = parseNote(text);
  // Only the origin is read before a signature verifies: the rest is untrusted until then.
  const origin = body.slice(0, body.indexOf('\n'));
  const candidates = nameProblem(origin) ? [] : keys.map((key) => ({ key, id: noteKeyId(origin, key) }));
  const message = Buffer.from(body, 'utf8');
  for (const sig of signatures) {
    if (sig.keyName !== origin) continue;
    const matches = candidates.filter((c) => c.id.equals(sig.keyId));
    if (matches.length === 0) continue;
    const good = matches.find(
      (c) => sig.signature.length === ED25519_SIGNATURE_BYTES && verify(null, message, c.key, sig.signature),
    );
    if (!good) {
      throw new NoteSignatureError(
        `signature does not verify for key ${origin}+${sig.keyId.toString('hex')}`,
        'bad-signature',
      );
    }
    return { checkpoint: parseCheckpoint(body), keyId: Buffer.from(sig.keyId), key: good.key };
  }
  const names = [...new Set(signatures.map((s) => s.keyName))].filter((n) => n !== origin);
  throw new NoteSignatureError(
    names.length > 0 && !signatures.some((s) => s.keyName === origin)
      ? `no signature by a known key: signed as ${names.map(show).join(', ')}, but the origin is ${show(origin)}`
      : 'no signature by a known key',
    'unknown-key',
  );
}
