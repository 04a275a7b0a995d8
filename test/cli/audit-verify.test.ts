/**
 * `credreg audit verify` as a user runs it: real processes on files in a temporary directory, with
 * no server, no database and no token (CREDREG_ADDR points at a port nothing listens on).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditLeafEntry, auditLeafHash } from '../../src/crypto/audit-leaf.js';
import { formatCheckpoint, signNote } from '../../src/crypto/checkpoint-note.js';
import { inclusionPlan, proofFromPlan, TreeBuilder } from '../../src/crypto/merkle.js';
import { cleanEnv, runCli } from '../helpers/cli-server.js';
import { freePort } from '../helpers/processes.js';

const TENANT = '0193a5b2-0000-7000-8000-000000000009';
const ORIGIN = `credreg/audit/${TENANT}`;

const entryAt = (i: number): AuditLeafEntry => ({
  action: 'reveal',
  actor: `token:${i}`,
  clientRequestId: null,
  credentialId: null,
  errorCode: null,
  id: `0193a5b3-0000-7000-8000-${String(i).padStart(12, '0')}`,
  occurredAt: '2026-12-03T08:35:38.123456Z',
  outcome: 'success',
  reason: 'cli test',
  requestId: null,
  sourceIp: null,
  tenantId: TENANT,
  userAgent: null,
  vaultId: null,
  version: 1,
});

/** A signed checkpoint of the first `size` leaves. */
function checkpoint(leaves: readonly Buffer[], size: number, key: KeyObject): string {
  const tree = new TreeBuilder();
  for (const leaf of leaves.slice(0, size)) tree.append(leaf);
  const body = formatCheckpoint({ origin: ORIGIN, treeSize: size, rootHash: tree.root(), time: new Date() });
  return signNote(body, ORIGIN, key);
}

/** The export's lines: the header, then each leaf with its proof from the tree's stored nodes. */
function exportLines(entries: readonly AuditLeafEntry[], key: KeyObject): string[] {
  const leaves = entries.map(auditLeafHash);
  const nodes = new Map<string, Buffer>();
  const tree = new TreeBuilder();
  leaves.forEach((leaf, i) => {
    nodes.set(`0:${i}`, leaf);
    for (const n of tree.append(leaf)) nodes.set(`${n.level}:${n.index}`, n.hash);
  });
  const node = (ref: { level: number; index: number }) => nodes.get(`${ref.level}:${ref.index}`);
  return [
    JSON.stringify({ format: 'credreg-audit-export/1', checkpoint: checkpoint(leaves, leaves.length, key) }),
    ...entries.map((entry, i) =>
      JSON.stringify({
        leafIndex: i,
        leafHash: leaves[i]!.toString('base64'),
        entry,
        proof: proofFromPlan(inclusionPlan(i, leaves.length), node).map((p) => p.toString('base64')),
      }),
    ),
  ];
}

describe('credreg audit verify (offline, real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credreg-audit-verify-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const oldKey = generateKeyPairSync('ed25519');
  const newKey = generateKeyPairSync('ed25519');
  const pem = (k: { publicKey: KeyObject }) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const entries = Array.from({ length: 9 }, (_, i) => entryAt(i));
  const leaves = entries.map(auditLeafHash);
  const root = (() => {
    const tree = new TreeBuilder();
    for (const leaf of leaves) tree.append(leaf);
    return tree.root().toString('base64');
  })();
  const paths = {
    log: '',
    tampered: '',
    checkpoint: '',
    small: '',
    previousOld: '',
    newKey: '',
    bothKeys: '',
    privateKey: '',
  };
  let env: NodeJS.ProcessEnv;
  const verify = (args: string[]) => runCli(['audit', 'verify', ...args], env);

  beforeAll(async () => {
    // No server, and no token: a command that tried to reach one would fail with 3 or 6.
    env = { ...cleanEnv(), CREDREG_ADDR: `http://127.0.0.1:${await freePort()}` };
    const lines = exportLines(entries, newKey.privateKey);
    paths.log = file('audit.jsonl', `${lines.join('\n')}\n`);
    const tampered = [...lines];
    tampered[4] = tampered[4]!.replace('"actor":"token:3"', '"actor":"token:intruder"');
    paths.tampered = file('tampered.jsonl', `${tampered.join('\n')}\n`);
    paths.checkpoint = file('latest.checkpoint', checkpoint(leaves, 9, newKey.privateKey));
    paths.small = file('seven.checkpoint', checkpoint(leaves, 7, newKey.privateKey));
    paths.previousOld = file('old.checkpoint', checkpoint(leaves, 4, oldKey.privateKey));
    paths.newKey = file('new.pem', pem(newKey));
    paths.bothKeys = file('both.pem', `${pem(oldKey)}${pem(newKey)}`);
    paths.privateKey = file(
      'private.pem',
      newKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
  });

  it('0: a log that verifies, one line on stdout', async () => {
    const r = await verify([
      '--log',
      paths.log,
      '--checkpoint',
      paths.checkpoint,
      '--public-key',
      paths.newKey,
    ]);
    expect(r).toEqual({ code: 0, stdout: `verified: 9 entries, tree size 9, root ${root}\n`, stderr: '' });
  });

  it('0: a smaller checkpoint held and a previous one under a rotated-out key (one PEM file, two keys)', async () => {
    const args = ['--log', paths.log, '--checkpoint', paths.small, '--previous', paths.previousOld];
    const r = await verify([...args, '--public-key', paths.bothKeys]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `verified: 9 entries, tree size 9, root ${root}, contains checkpoint 7, grew from 4\n`,
    );
    expect(r.code).toBe(0);
    // The same keys as two --public-key files; --json prints the result object.
    const json = await verify([
      ...args,
      '--public-key',
      paths.newKey,
      '--public-key',
      paths.bothKeys,
      '--json',
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: true,
      origin: ORIGIN,
      treeSize: 9,
      rootHash: root,
      entries: 9,
      checkpointTreeSize: 7,
      previousTreeSize: 4,
    });
  });

  it('7: a tampered log, the message naming the index and the reason', async () => {
    const r = await verify([
      '--log',
      paths.tampered,
      '--checkpoint',
      paths.checkpoint,
      '--public-key',
      paths.newKey,
    ]);
    expect(r).toEqual({
      code: 7,
      stdout: '',
      stderr:
        'credreg: audit log verification failed at index 3: edited (the entry does not hash to the leaf the checkpoint commits to)\n',
    });
  });

  it('7 with --json: the result on stdout, the error object on stderr', async () => {
    const args = ['--log', paths.tampered, '--checkpoint', paths.checkpoint, '--public-key', paths.newKey];
    const r = await verify([...args, '--json']);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, index: 3, reason: 'edited' });
    expect(JSON.parse(r.stderr)).toEqual({
      code: 'UNVERIFIED',
      title: 'unverified',
      detail: expect.stringMatching(/^audit log verification failed at index 3: edited \(/),
    });
  });

  it('7: a checkpoint the given key did not sign (the old key alone)', async () => {
    const old = file('old.pem', pem(oldKey));
    const r = await verify(['--log', paths.log, '--checkpoint', paths.checkpoint, '--public-key', old]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(
      /^credreg: audit log verification failed: bad-signature \(the checkpoint is not signed/,
    );
  });

  it('2: a file that is not there, a key that is not a public key, a missing option', async () => {
    const missing = join(dir, 'missing.jsonl');
    const noLog = await verify([
      '--log',
      missing,
      '--checkpoint',
      paths.checkpoint,
      '--public-key',
      paths.newKey,
    ]);
    expect(noLog.code).toBe(2);
    expect(noLog.stderr).toBe(`credreg: --log ${missing}: cannot read it (ENOENT)\n`);
    const noCheckpoint = await verify([
      '--log',
      paths.log,
      '--checkpoint',
      missing,
      '--public-key',
      paths.newKey,
    ]);
    expect(noCheckpoint.code).toBe(2);
    expect(noCheckpoint.stderr).toMatch(/^credreg: --checkpoint .*missing\.jsonl: cannot read it \(ENOENT\)/);
    const privateKey = await verify([
      '--log',
      paths.log,
      '--checkpoint',
      paths.checkpoint,
      '--public-key',
      paths.privateKey,
    ]);
    expect(privateKey.code).toBe(2);
    expect(privateKey.stderr).toMatch(/this is a private key; give the public key/);
    const noKey = await verify(['--log', paths.log, '--checkpoint', paths.checkpoint]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/required option '--public-key <file>' not specified/);
  });
});
