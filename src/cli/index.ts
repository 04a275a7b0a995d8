#!/usr/bin/env node
import { packageVersion } from './version.js';

// `credreg --version` alone answers before commander and the command tree are even loaded.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${packageVersion()}\n`);
} else {
  const { run } = await import('./main.js');
  await run(process.argv);
}
