import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // The long fault and soak tests: npm run test:faults (vitest.faults.config.ts).
    exclude: ['test/faults/**', 'node_modules/**'],
    // Files run in parallel processes; each gets its own Redis key prefix / database schema.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
