/**
 * The tamper-evident log's commands that ask the server: `audit keys`, `audit checkpoint`, and the
 * export with proofs that `audit verify` (audit-verify-command.ts) checks with no server at all.
 * Formats: docs/audit.md.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { RegistryClient } from '../client/registry-client.js';
import { AUDIT_EXPORT_FORMAT } from '../crypto/audit-log-verifier.js';
import { connect, print, type RemoteOptions, writeLine } from './remote-commands.js';

/** Leaves per request: the API's largest page. */
const LEAVES_PAGE = 1000;

/** Adds `keys`, `rotate-key` and `checkpoint` to the `audit` command group. */
export function registerAuditLogCommands(audit: Command): void {
  audit
    .command('keys')
    .description(
      "print the tenant's current checkpoint public key (PEM), for `audit verify --public-key`; --json lists every key with its validity",
    )
    .action(async (opts: RemoteOptions) => {
      const { keys, origin } = await connect(opts).auditKeys();
      print(opts, { origin, keys }, () => {
        const current = keys.find((k) => !k.validTo) ?? keys.at(-1);
        return current ? current.publicKeyPem.trimEnd() : '';
      });
    });

  audit
    .command('rotate-key')
    .description(
      'replace the checkpoint signing key (keys:manage): checkpoints signed before still verify with the old key, which `audit keys --json` keeps listing',
    )
    .action(async (opts: RemoteOptions) => {
      const rotated = await connect(opts).rotateAuditKey();
      print(opts, rotated, () => `KEY\t${rotated.id}\nVALID FROM\t${rotated.validFrom}`);
    });

  audit
    .command('checkpoint')
    .description(
      "print a signed checkpoint of the tenant's audit log covering every entry so far (keep it: a later `audit verify --previous` proves the log only grew from it)",
    )
    .action(async (opts: RemoteOptions) => {
      const cp = await connect(opts).auditCheckpoint();
      // The note's own text, byte for byte: its signature covers it, and it ends with its newline.
      print(opts, cp, () => cp.checkpoint.replace(/\n$/, ''));
    });
}

/**
 * `audit export --format jsonl --proofs`: a fresh checkpoint as the header, then every leaf of the
 * tree it signs, in order, each with its row as the database holds it and its inclusion proof.
 */
export async function exportWithProofs(client: RegistryClient): Promise<void> {
  const cp = await client.auditCheckpoint();
  if (!(await writeLine(JSON.stringify({ format: AUDIT_EXPORT_FORMAT, checkpoint: cp.checkpoint })))) return;
  for (let from = 0; from < cp.treeSize; from += LEAVES_PAGE) {
    const page = await client.auditLeaves({
      treeSize: cp.treeSize,
      from,
      limit: Math.min(LEAVES_PAGE, cp.treeSize - from),
      proofs: true,
    });
    for (const leaf of page.items) {
      const line = {
        leafIndex: leaf.leafIndex,
        leafHash: leaf.leafHash,
        entry: leaf.entry,
        proof: leaf.proof,
      };
      if (!(await writeLine(JSON.stringify(line)))) return;
    }
  }
}

/** `--proofs` exports the whole log as its tree holds it: filters and CSV do not apply. */
export function checkProofsExport(opts: { format: string }): void {
  if (opts.format !== 'jsonl')
    throw new InvalidArgumentError('--proofs writes JSON Lines: use --format jsonl');
  const filters = ['credential', 'vault', 'actor', 'action', 'outcome', 'from', 'to'].filter(
    (f) => (opts as Record<string, unknown>)[f] !== undefined,
  );
  if (filters.length > 0) {
    throw new InvalidArgumentError(
      `--proofs exports the whole log, which a checkpoint covers: drop --${filters.join(', --')}`,
    );
  }
}
