// tsc copies no .sql files; the runtime reads migrations next to the compiled migrator.
import { cpSync } from 'node:fs';

cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
