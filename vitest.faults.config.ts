// npm run test:faults: the long tests (test/faults/) that stop Redis and PostgreSQL, restart the
// service, attack it with hostile clients, and soak it for three minutes. .ci/run runs them after
// npm test. Files run two at a time; the soak is the longest (about 3.5 minutes).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
