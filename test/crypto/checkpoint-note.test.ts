import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  CheckpointFormatError,
  ed25519RawPublicKey,
  formatCheckpoint,
  NoteSignatureError,
  noteKeyId,
  openCheckpoint,
  parseCheckpoint,
  parseNote,
  signNote,
  verifierKey,
} from '../../src/crypto/checkpoint-note.js';

const origin = 'credreg/audit/0193a5b2-0000-7000-8000-000000000001';
const cp: Checkpoint = {
  origin,
  treeSize: 1234,
  rootHash: Buffer.alloc(32, 7),
  time: new Date('2026-12-02T19:10:00.123Z'),
};
const body = `${origin}\n1234\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntime 2026-12-02T19:10:00.123Z\n`;
const pair = () => generateKeyPairSync('ed25519');

/* Vectors from golang.org/x/mod/sumdb/note's note_test.go. */
const peterVkey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const peterSkey = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const enochVkey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const goText =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const peterSig =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const enochSig =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

function publicFromVkey(vkey: string): KeyObject {
  const raw = Buffer.from(vkey.split('+')[2]!, 'base64');
  expect(raw[0]).toBe(1);
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.subarray(1).toString('base64url') },
    format: 'jwk',
  });
}

/** What `f` threw (undefined if it returned). */
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

const malformed = (f: () => unknown, message: RegExp) => {
  const err = thrown(f);
  expect(err).toBeInstanceOf(CheckpointFormatError);
  expect((err as CheckpointFormatError).reason).toBe('malformed');
  expect((err as Error).message).toMatch(message);
};

const refused = (f: () => unknown, reason: string) => {
  const err = thrown(f);
  expect(err).toBeInstanceOf(NoteSignatureError);
  expect((err as NoteSignatureError).reason).toBe(reason);
};

describe('checkpoint body', () => {
  it('formats exactly the four lines', () => {
    expect(formatCheckpoint(cp)).toBe(body);
    expect(formatCheckpoint({ ...cp, treeSize: 0 }).split('\n')[1]).toBe('0');
  });

  it('parses back what it formats', () => {
    const back = parseCheckpoint(body);
    expect(back).toEqual(cp);
    expect(back.rootHash.equals(cp.rootHash)).toBe(true);
  });

  it('refuses bad input to formatCheckpoint', () => {
    malformed(() => formatCheckpoint({ ...cp, origin: '' }), /empty/);
    malformed(() => formatCheckpoint({ ...cp, origin: 'a b' }), /whitespace/);
    malformed(() => formatCheckpoint({ ...cp, origin: 'a+b' }), /'\+'/);
    malformed(() => formatCheckpoint({ ...cp, treeSize: -1 }), /tree size/);
    malformed(() => formatCheckpoint({ ...cp, treeSize: 1.5 }), /tree size/);
    malformed(() => formatCheckpoint({ ...cp, treeSize: 2 ** 53 }), /tree size/);
    malformed(() => formatCheckpoint({ ...cp, rootHash: Buffer.alloc(31) }), /31 bytes/);
    malformed(() => formatCheckpoint({ ...cp, time: new Date(Number.NaN) }), /time/);
    malformed(() => formatCheckpoint({ ...cp, time: new Date('+010000-01-01T00:00:00.000Z') }), /time/);
  });

  it.each([
    ['missing final newline', body.slice(0, -1), /does not end with a newline/],
    ['missing time line', body.split('\n').slice(0, 3).join('\n').concat('\n'), /line 4 \(time\) is missing/],
    ['missing root line', `${origin}\n1\n`, /line 3 \(root hash\) is missing/],
    ['empty origin', body.replace(origin, ''), /line 1 \(origin\) is empty/],
    ['origin with +', body.replace(origin, 'a+b'), /line 1: origin/],
    ['leading zeros', body.replace('\n1234\n', '\n01234\n'), /line 2.*leading zeros/],
    ['non-decimal size', body.replace('\n1234\n', '\n0x10\n'), /line 2.*not a decimal/],
    ['signed size', body.replace('\n1234\n', '\n+1\n'), /line 2.*not a decimal/],
    ['unsafe size', body.replace('\n1234\n', '\n9007199254740992\n'), /line 2.*safe integer/],
    ['short root', body.replace(/\n[^\n]+=\n/, `\n${Buffer.alloc(31).toString('base64')}\n`), /31 bytes/],
    ['unpadded root', body.replace('Bwc=\n', 'Bwc\n'), /line 3.*base64/],
    ['non-canonical root', body.replace('Bwc=\n', 'Bwd=\n'), /line 3.*canonical/],
    ['base64url root', `${origin}\n1\n${'_'.repeat(43)}=\ntime 2026-12-02T19:10:00.123Z\n`, /line 3/],
    ['unknown extension', body.replace('time ', 'when '), /line 4: expected "time/],
    ['time without millis', body.replace('00.123Z', '00Z'), /line 4: time/],
    ['time with offset', body.replace('.123Z', '.123+00:00'), /line 4: time/],
    ['impossible date', body.replace('2026-12-02', '2026-02-30'), /line 4: time/],
    ['extra line', `${body}x\n`, /line 5: unexpected extra line/],
    ['CR', body.replace('\n1234', '\r\n1234'), /line 1 contains a carriage return/],
    ['empty extra line', `${body}\n`, /line 5/],
  ])('refuses %s', (_name, text, message) => {
    malformed(() => parseCheckpoint(text), message);
  });
});

describe('keys', () => {
  it('computes the key id from the C2SP definition', () => {
    const { publicKey, privateKey } = pair();
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const want = createHash('sha256')
      .update(Buffer.concat([Buffer.from(origin), Buffer.from([0x0a, 0x01]), raw]))
      .digest()
      .subarray(0, 4);
    expect(ed25519RawPublicKey(publicKey).equals(raw)).toBe(true);
    expect(ed25519RawPublicKey(privateKey).equals(raw)).toBe(true);
    expect(noteKeyId(origin, publicKey).equals(want)).toBe(true);
    expect(noteKeyId(origin, privateKey).equals(want)).toBe(true);
    expect(verifierKey(origin, publicKey)).toBe(
      `${origin}+${want.toString('hex')}+${Buffer.concat([Buffer.from([1]), raw]).toString('base64')}`,
    );
  });

  it('refuses keys of other types', () => {
    expect(() => ed25519RawPublicKey(generateKeyPairSync('x25519').publicKey)).toThrow(TypeError);
    expect(() => ed25519RawPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(
      TypeError,
    );
  });

  it('matches the Go sumdb/note vectors', () => {
    const peter = publicFromVkey(peterVkey);
    expect(verifierKey('PeterNeumann', peter)).toBe(peterVkey);
    expect(verifierKey('EnochRoot', publicFromVkey(enochVkey))).toBe(enochVkey);
    // PKCS#8 wrapper of the 32-byte seed that follows the 0x01 algorithm byte.
    const seed = Buffer.from(peterSkey, 'base64').subarray(1);
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    expect(ed25519RawPublicKey(priv).equals(ed25519RawPublicKey(peter))).toBe(true);
    // Ed25519 is deterministic, so our note must be byte-identical to Go's.
    expect(signNote(goText, 'PeterNeumann', priv)).toBe(`${goText}\n${peterSig}`);
    const note = parseNote(`${goText}\n${peterSig}${enochSig}`);
    expect(note.body).toBe(goText);
    expect(note.signatures.map((s) => [s.keyName, s.keyId.toString('hex'), s.signature.length])).toEqual([
      ['PeterNeumann', 'c74f20a3', 64],
      ['EnochRoot', 'af0cfe78', 64],
    ]);
  });
});

describe('signed note', () => {
  it('round-trips format → sign → open', () => {
    const { publicKey, privateKey } = pair();
    const note = signNote(formatCheckpoint(cp), origin, privateKey);
    expect(note.startsWith(`${body}\n— ${origin} `)).toBe(true);
    const opened = openCheckpoint(note, [publicKey]);
    expect(opened.checkpoint).toEqual(cp);
    expect(opened.keyId.equals(noteKeyId(origin, publicKey))).toBe(true);
    expect(opened.key).toBe(publicKey);
    expect(parseNote(note).body).toBe(body);
  });

  it('refuses bodies signNote cannot frame', () => {
    const { privateKey, publicKey } = pair();
    malformed(() => signNote('a', origin, privateKey), /newline/);
    malformed(() => signNote('a\n\nb\n', origin, privateKey), /blank line/);
    malformed(() => signNote('\na\n', origin, privateKey), /blank line/);
    malformed(() => signNote('a\r\n', origin, privateKey), /carriage return/);
    malformed(() => signNote('a\n', 'bad name', privateKey), /whitespace/);
    expect(() => signNote('a\n', origin, publicKey)).toThrow(TypeError);
  });

  it.each([
    ['no separator', `${goText}${peterSig}`, /no blank line/],
    ['no signatures', `${goText}\n`, /no signature lines/],
    ['unterminated signature', `${goText}\n${peterSig.slice(0, -1)}`, /does not end with a newline/],
    ['bad name', `${goText}\n${peterSig.replace('PeterNeumann', 'Peter Neumann')}`, /signature line 1/],
    ['bad base64', `${goText}\n${peterSig.replace('x08go', 'x08g!')}`, /base64/],
    ['no em dash', `${goText}\n${peterSig.replace('—', '-')}`, /does not start/],
    ['too short', `${goText}\n— PeterNeumann AAAAAA==\n`, /too short/],
    ['text after signatures', `${goText}\n${peterSig}Unexpected line.\n`, /signature line 2/],
    ['control character', `\u0001${goText}\n${peterSig}`, /control character/],
    ['too many', `${goText}\n${peterSig.repeat(101)}`, /at most 100/],
  ])('parseNote refuses %s', (_name, text, message) => {
    malformed(() => parseNote(text), message);
  });

  it('keeps signature lines of other types (e.g. the C2SP checkpoint example)', () => {
    const example =
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
      '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';
    const note = parseNote(example);
    expect(note.signatures).toHaveLength(1);
    expect(note.signatures[0]!.keyName).toBe('example.com/behind-the-sofa');
  });

  it('refuses a signature by another key', () => {
    const note = signNote(body, origin, pair().privateKey);
    refused(() => openCheckpoint(note, [pair().publicKey]), 'unknown-key');
    refused(() => openCheckpoint(note, []), 'unknown-key');
  });

  it.each([
    ['tree size + 1', (b: string) => b.replace('\n1234\n', '\n1235\n')],
    ['root changed', (b: string) => b.replace('Bwc=', 'Bwg=')],
    ['time changed', (b: string) => b.replace('.123Z', '.124Z')],
  ])('refuses a signature over a modified body: %s', (_name, edit) => {
    const { publicKey, privateKey } = pair();
    const note = signNote(body, origin, privateKey);
    const tampered = `${edit(body)}${note.slice(body.length)}`;
    expect(tampered).not.toBe(note);
    refused(() => openCheckpoint(tampered, [publicKey]), 'bad-signature');
  });

  it('refuses a known-key line whose blob is not an Ed25519 signature', () => {
    const { publicKey } = pair();
    const blob = Buffer.concat([noteKeyId(origin, publicKey), Buffer.alloc(10)]).toString('base64');
    refused(() => openCheckpoint(`${body}\n— ${origin} ${blob}\n`, [publicKey]), 'bad-signature');
  });

  it('refuses a key name different from the origin', () => {
    const { publicKey, privateKey } = pair();
    const note = signNote(body, 'credreg/audit/other', privateKey);
    let err: unknown;
    try {
      openCheckpoint(note, [publicKey]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoteSignatureError);
    expect((err as NoteSignatureError).reason).toBe('unknown-key');
    expect((err as Error).message).toMatch(/origin/);
  });

  it('verifies when only the second signature is by a known key, ignoring unknown ones', () => {
    const stranger = pair();
    const known = pair();
    const first = signNote(body, origin, stranger.privateKey);
    const second = signNote(body, origin, known.privateKey).slice(body.length + 1);
    const witness = `— witness.example/w1 ${Buffer.alloc(76, 3).toString('base64')}\n`;
    const note = `${first}${witness}${second}`;
    expect(parseNote(note).signatures).toHaveLength(3);
    const opened = openCheckpoint(note, [known.publicKey]);
    expect(opened.key).toBe(known.publicKey);
    expect(opened.checkpoint).toEqual(cp);
    // Candidates may be private keys, and a rotated-out key among them does no harm.
    expect(openCheckpoint(note, [pair().publicKey, known.privateKey]).key).toBe(known.privateKey);
  });

  it('refuses a malformed checkpoint even when the signature verifies', () => {
    const { publicKey, privateKey } = pair();
    const bad = body.replace('\n1234\n', '\n01234\n');
    malformed(() => openCheckpoint(signNote(bad, origin, privateKey), [publicKey]), /leading zeros/);
  });
});
