import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCallguardSink, createReporter } from '../src/client/index.js';
import { createLogger } from '../src/ops/logger.js';
import type { Callguard } from '../src/app/callguard.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';

const RULES = {
  twilio: { threshold_count: 3, window_minutes: 5, log_patterns: ['error when making call via twilio'] },
  soniox: { threshold_count: 3, window_minutes: 5, log_patterns: ['soniox transcription failed'], min_level: 'error' },
};

let cg: Callguard | undefined;
afterEach(async () => {
  await stopTestCallguard(cg);
  cg = undefined;
});

describe('library API against a running callguard', () => {
  it("an app's pino logs are counted: INFO/DEBUG and callguard's own records are ignored, a matching ERROR counts", async () => {
    cg = await startTestCallguard(RULES);
    const reporter = createReporter({ redisUrl: cg.config.redisUrl, prefix: cg.config.prefix, flushMs: 20 });
    const sink = createCallguardSink({ rules: cg.rules, reporter });
    const devnull = { write: () => true };
    const app = pino({ level: 'trace' }, pino.multistream([{ stream: devnull }, { level: 'trace', stream: sink }]));
    try {
      app.info('error when making call via twilio (retrying)');
      app.debug('error when making call via Twilio');
      app.warn('soniox transcription failed'); // soniox only counts from error up
      // callguard's own logger writing the same phrase at ERROR must not count itself
      createLogger('trace', sink).error('error when making call via twilio');
      app.error({ err: new Error('503 from provider') }, 'Error when making call via Twilio');
      app.error('soniox transcription failed: ws closed');
      await reporter.flush();
      await waitFor(async () => (await cg!.counters.sums()).counts.twilio === 1);
      await waitFor(async () => (await cg!.counters.sums()).counts.soniox === 1);
      expect(sink.stats()).toMatchObject({ matched: 2, errors: 0 });
    } finally {
      await reporter.close();
    }
  });

  it('reportError calls coalesce into one job per flush and trip the rule', async () => {
    cg = await startTestCallguard(RULES);
    const reporter = createReporter({ redisUrl: cg.config.redisUrl, prefix: cg.config.prefix, flushMs: 50 });
    try {
      for (let i = 0; i < 1000; i++) reporter.report(i % 2 ? 'twilio' : 'soniox');
      await reporter.flush();
      expect(reporter.stats.flushes).toBe(1);
      await waitFor(async () => (await cg!.ledger.list()).length === 2);
      expect((await cg.counters.sums()).counts).toEqual({ twilio: 500, soniox: 500 });
    } finally {
      await reporter.close();
    }
  });

  it('a reporter whose Redis is unreachable never throws into the caller and counts what it dropped', async () => {
    const reporter = createReporter({ redisUrl: 'redis://127.0.0.1:1', prefix: '{cgtest-unreachable}', flushMs: 10, flushTimeoutMs: 300 });
    expect(() => reporter.report('twilio', 5)).not.toThrow();
    expect(() => reporter.report('', 1)).not.toThrow();
    expect(reporter.stats.dropped).toBe(1);
    await reporter.close();
    expect(reporter.stats).toMatchObject({ reported: 5, dropped: 6, unsent: 0 });
    expect(reporter.stats.failedFlushes).toBeGreaterThan(0);
  });
});
