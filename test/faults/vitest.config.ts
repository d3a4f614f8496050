import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: real processes and private Redis servers (never the shared one) that are
 * killed, frozen, restarted empty and failed over. One file at a time; each prints its figures.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // The figures are the point of this suite: show what each test prints.
    silent: false,
  },
});
