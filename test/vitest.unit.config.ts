import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the pure tests — decisions, parsing, schemas, docs — with no Redis, no
 * Chromium and no set-up, in seconds. test/unit-suite.test.ts runs it with Redis unreachable.
 */
export const UNIT_TESTS = [
  'test/alerts.test.ts',
  'test/compose.test.ts',
  'test/config-docs.test.ts',
  'test/config.test.ts',
  'test/console-rule-state.test.ts',
  'test/decide.test.ts',
  'test/engine-events.test.ts',
  'test/errors.test.ts',
  'test/limits.test.ts',
  'test/hold.test.ts',
  'test/log-record.test.ts',
  'test/log-sink.test.ts',
  'test/matcher.test.ts',
  'test/notify-messages.test.ts',
  'test/notify-retry.test.ts',
  'test/rate-rules.test.ts',
  'test/readme.test.ts',
  'test/rules.test.ts',
  'test/scripts.test.ts',
  'test/signature.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: UNIT_TESTS,
    testTimeout: 20_000,
    // Pure modules: one worker thread can import them once for every file.
    pool: 'threads',
    isolate: false,
  },
});
