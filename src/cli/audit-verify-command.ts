import { createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { type AuditVerifyResult, verifyAuditExport } from '../crypto/audit-log-verifier.js';
import { CliError } from './exit-codes.js';

/**
 * `credreg audit verify`: checks an export with proofs against checkpoints the caller holds, on
 * this machine alone (no server, no database, no token), with src/crypto/audit-log-verifier.ts.
 */

interface AuditVerifyOptions {
  log: string;
  checkpoint: string;
  previous?: string;
  publicKey: string[];
  json?: boolean;
}

/**
 * Adds `audit verify --log <file> --checkpoint <file> [--previous <file>] --public-key <file>…`.
 * Exits 0 and prints one line (with `--json`, the result object) when the log verifies; exits 7
 * (unverified) naming the first bad leaf index and why when it does not; exits 2 when a file cannot
 * be read or a key is not an Ed25519 public key.
 *
 * @example
 * credreg audit verify --log audit.jsonl --checkpoint latest.checkpoint --public-key audit-key.pem
 * // verified: 1234 entries, tree size 1234, root 3q2+7w…=
 */
export function registerAuditVerifyCommand(audit: Command): Command {
  return audit
    .command('verify')
    .description(
      'check an audit export (jsonl with proofs) against signed checkpoints you hold, offline: no server or token needed',
    )
    .requiredOption('--log <file>', 'the export: `credreg audit export --format jsonl --proofs` output')
    .requiredOption('--checkpoint <file>', 'a signed checkpoint you hold; the export must contain its tree')
    .option('--json', 'print the result as JSON, for scripts')
    .option('--previous <file>', 'an older signed checkpoint you hold: checks that the log only grew since')
    .requiredOption(
      '--public-key <file>',
      "the log's Ed25519 public key, SPKI PEM (GET /v1/audit/keys); repeat it for keys rotated out, a file may hold several",
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .action(async (opts: AuditVerifyOptions) => {
      const [checkpoint, previous, publicKeys] = await Promise.all([
        readText(opts.checkpoint, '--checkpoint'),
        opts.previous === undefined ? undefined : readText(opts.previous, '--previous'),
        Promise.all(opts.publicKey.map(readPublicKeys)).then((keys) => keys.flat()),
        checkReadable(opts.log),
      ]);
      const result = await verifyAuditExport({
        lines: () => fileLines(opts.log),
        checkpoint,
        ...(previous === undefined ? {} : { previous }),
        publicKeys,
      });
      // With --json the verdict goes to stdout either way; a failure also gets the usual error on stderr.
      if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.ok) process.stdout.write(`${verifiedLine(result)}\n`);
      if (!result.ok) {
        const at = result.index === null ? '' : ` at index ${result.index}`;
        throw new CliError(
          'unverified',
          'UNVERIFIED',
          `audit log verification failed${at}: ${result.reason} (${result.message})`,
        );
      }
    });
}

function verifiedLine(result: Extract<AuditVerifyResult, { ok: true }>): string {
  const parts = [
    `verified: ${result.entries} entries, tree size ${result.treeSize}, root ${result.rootHash}`,
  ];
  if (result.checkpointTreeSize !== result.treeSize)
    parts.push(`contains checkpoint ${result.checkpointTreeSize}`);
  if (result.previousTreeSize !== undefined) parts.push(`grew from ${result.previousTreeSize}`);
  return parts.join(', ');
}

const usage = (message: string) => new CliError('usage', 'USAGE', message);

function cannotRead(flag: string, file: string, err: unknown): CliError {
  const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
  return usage(`${flag} ${file}: cannot read it (${why})`);
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw cannotRead(flag, file, err);
  }
}

/* The log is read as a stream, twice at most: only its being there and a file is checked up front. */
async function checkReadable(file: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(file)).isFile();
  } catch (err) {
    throw cannotRead('--log', file, err);
  }
  if (!isFile) throw usage(`--log ${file}: not a file`);
}

async function* fileLines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, 'utf8');
  try {
    yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  } finally {
    // A verifier that stops at a bad line must not leave the file open.
    input.destroy();
  }
}

const PEM_PUBLIC_KEY = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/** Every `PUBLIC KEY` block of a PEM file, each an Ed25519 key. */
async function readPublicKeys(file: string): Promise<KeyObject[]> {
  const text = await readText(file, '--public-key');
  const blocks = text.match(PEM_PUBLIC_KEY) ?? [];
  if (blocks.length === 0) {
    throw usage(
      text.includes('PRIVATE KEY-----')
        ? `--public-key ${file}: this is a private key; give the public key (GET /v1/audit/keys)`
        : `--public-key ${file}: no "-----BEGIN PUBLIC KEY-----" block (an SPKI PEM file is expected)`,
    );
  }
  return blocks.map((pem, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw usage(`--public-key ${file}: key ${i + 1} is not a valid public key (${(err as Error).message})`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw usage(`--public-key ${file}: key ${i + 1} is ${key.asymmetricKeyType}, not Ed25519`);
    }
    return key;
  });
}
