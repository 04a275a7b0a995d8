/**
 * `credreg backup` (a snapshot of the running server's embedded store, platform token) and
 * `credreg restore` (offline: unpacks one into a new data directory). See docs/operations.md,
 * "Backup and restore".
 */
import { constants, copyFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { addRemoteOptions, connect, type RemoteOptions } from './remote-commands.js';

/**
 * Adds `credreg backup` and `credreg restore`. `restore` loads the embedded database only when it
 * runs, so the other commands never import PGlite.
 *
 * @example
 * registerBackupCommands(program);
 * // credreg backup --out /backups/credreg-$(date +%F).tar.gz
 * // credreg restore --from /backups/credreg-2026-12-01.tar.gz --data-dir /var/lib/credreg-new --root-key-file old/root.key
 */
export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      "write a consistent snapshot of the running server's embedded store to a file (platform token); on PostgreSQL, use pg_dump",
    )
    .requiredOption('--out <file>', 'where to write it (refused if it exists); it holds no root key')
    .action(async (opts: RemoteOptions & { out: string }) => {
      const archive = await connect(opts).backup();
      const out = resolve(opts.out);
      // Written aside and renamed, so a failed backup never leaves a truncated file under its name.
      const partial = `${out}.partial-${process.pid}`;
      try {
        writeFileSync(partial, archive, { mode: 0o600, flag: 'wx' });
        linkOnce(partial, out);
      } finally {
        rmSync(partial, { force: true });
      }
      const summary = { out, bytes: archive.length };
      if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stdout.write(
          `backup written to ${out} (${archive.length} bytes); it holds no root key: keep the root key apart\n`,
        );
    });
  addRemoteOptions([backup]);

  program
    .command('restore')
    .description('unpack a backup into a new, empty data directory (offline: no server runs on it meanwhile)')
    .requiredOption('--from <file>', 'a file written by credreg backup')
    .requiredOption('--data-dir <dir>', 'the new data directory (refused unless empty or absent)')
    .option(
      '--root-key-file <file>',
      "the original store's root key (its root.key), copied into the new directory; without it, place the key yourself",
    )
    .option('--json', 'print JSON, for scripts')
    .action(async (opts: { from: string; dataDir: string; rootKeyFile?: string; json?: boolean }) => {
      const archive = new Uint8Array(await readFile(resolve(opts.from)));
      const { restoreEmbeddedBackup } = await import('../db/embedded-restore.js');
      const dataDir = resolve(opts.dataDir);
      const restored = await restoreEmbeddedBackup(archive, dataDir);
      if (opts.rootKeyFile) {
        copyFileSync(resolve(opts.rootKeyFile), join(dataDir, 'root.key'), constants.COPYFILE_EXCL);
      }
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ...restored, rootKeyCopied: Boolean(opts.rootKeyFile) })}\n`,
        );
        return;
      }
      process.stdout.write(`restored into ${dataDir} (schema version ${restored.schemaVersion})\n`);
      if (!opts.rootKeyFile) {
        process.stderr.write(
          `credreg: the backup holds no root key: copy the original root.key into ${dataDir}, or start with the same CREDREG_ROOT_KEY / CREDREG_ROOT_KEY_FILE / key provider as the original; without it nothing decrypts\n`,
        );
      }
    });
}

/** Moves `from` to `to` unless `to` exists (rename alone would replace it). */
function linkOnce(from: string, to: string): void {
  writeFileSync(to, '', { mode: 0o600, flag: 'wx' }); // claims the name, or fails with EEXIST
  renameSync(from, to);
}
