/**
 * `credreg completion bash|zsh|fish`: each script names the commands, subcommands and options of
 * the tree; the bash one (and zsh, fish where installed) completes as a user's shell would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli } from '../helpers/cli-server.js';

const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0;

describe('credreg completion', { timeout: 120_000 }, () => {
  const scripts: Record<string, string> = {};
  const dir = mkdtempSync(join(tmpdir(), 'credreg-completion-'));

  beforeAll(async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', shell], cleanEnv());
      expect(r.code, r.stderr).toBe(0);
      scripts[shell] = r.stdout;
      writeFileSync(join(dir, `credreg.${shell}`), r.stdout);
    }
  }, 120_000);

  it('each script names every top-level command, nested subcommands and their options', () => {
    for (const script of Object.values(scripts)) {
      for (const word of [
        'serve',
        'vault',
        'cred',
        'login',
        'logout',
        'completion',
        'rotation',
        'signing-secret',
      ]) {
        expect(script).toContain(word);
      }
      for (const option of ['reason', 'expected-version', 'profile', 'json'])
        expect(script).toContain(option);
    }
  });

  it('an unknown shell is a usage error (2)', async () => {
    const r = await runCli(['completion', 'tcsh'], cleanEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be one of bash, zsh, fish');
  });

  /** What bash offers after `words`, the last one being the word being completed. */
  function bashComplete(words: string[]): string[] {
    const array = words.map((w) => `'${w}'`).join(' ');
    const out = execFileSync('bash', [
      '-c',
      `source '${join(dir, 'credreg.bash')}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _credreg; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]).toString();
    return out.split('\n').filter(Boolean);
  }

  it('bash: commands at the top, subcommands below a group, options of the command reached', () => {
    expect(bashComplete(['credreg', 'va'])).toEqual(['vault']);
    expect(bashComplete(['credreg', 'cred', ''])).toEqual(expect.arrayContaining(['put', 'get', 'rotation']));
    expect(bashComplete(['credreg', 'cred', 'rotation', 's'])).toEqual(
      expect.arrayContaining(['set', 'show', 'signing-secret']),
    );
    // An option's value is skipped on the way down: `--addr http://x cred get --re`.
    expect(bashComplete(['credreg', '--addr', 'http://x', 'cred', 'get', '--re'])).toEqual(['--reason']);
  });

  it.skipIf(!has('zsh'))('zsh: the script parses, and offers the subcommands of the group reached', () => {
    const out = execFileSync('zsh', [
      '-c',
      `compdef() { :; }; _describe() { print -rl -- "\${(@P)4}"; }; source '${join(dir, 'credreg.zsh')}'; words=(credreg cred rotation ''); CURRENT=4; _credreg`,
    ]).toString();
    expect(out).toMatch(/^signing-secret:/m);
    expect(out).not.toMatch(/^vault:/m);
  });

  it.skipIf(!has('fish'))('fish: the script parses, and completes subcommands and options', () => {
    const out = execFileSync('fish', [
      '-c',
      `source '${join(dir, 'credreg.fish')}'; complete -C 'credreg cred rotation '; complete -C 'credreg cred get --re'`,
    ]).toString();
    expect(out).toMatch(/^signing-secret\t/m);
    expect(out).toMatch(/^--reason\t/m);
  });
});
