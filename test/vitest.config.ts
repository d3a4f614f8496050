import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Kept under test/ so the top level stays as the README describes; paths resolve from the repo root.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite has its own config and command (npm run test:faults).
    exclude: ['test/faults/**', '**/node_modules/**'],
    // Installs Chromium (as root) and makes sure Redis answers before any test runs.
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests share one Redis and real BullMQ workers; files run one at a time like BullMQ's own suite.
    fileParallelism: false,
    // Generous: tests wait on events with deadlines, and the machine they share may be loaded.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
