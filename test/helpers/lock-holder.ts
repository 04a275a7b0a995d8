/** A process that locks the data directory given as its argument, says so, and waits to be killed. */
import { lockDataDir } from '../../src/db/data-dir-lock.js';

lockDataDir(process.argv[2]!);
process.stdout.write('locked\n');
setInterval(() => {}, 60_000);
