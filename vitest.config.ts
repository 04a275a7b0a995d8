import { defineConfig } from 'vitest/config';

// Integration suites open real databases (PGlite in WASM, PostgreSQL over TCP); two workers fit
// the two-core machines CI runs on without starving PostgreSQL itself.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // expect.poll waits on a condition; its 1 s default is too short on a busy 2-core machine.
    expect: { poll: { timeout: 30_000 } },
    pool: 'forks',
    maxWorkers: 2,
  },
});
