import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeReporter, createCallguardSink, createReporter, reportError, reporterStats } from '../src/client/index.js';
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

  it('a reporter whose onUnreachable callback throws keeps flushing, and nothing reaches the caller', async () => {
    const reporter = createReporter({
      redisUrl: 'redis://127.0.0.1:1',
      prefix: '{cgtest-unreachable}',
      flushMs: 10,
      flushTimeoutMs: 300,
      onUnreachable: () => {
        throw new Error('a bug in the app callback');
      },
    });
    reporter.report('twilio', 1);
    await waitFor(() => reporter.stats.failedFlushes >= 3, { timeoutMs: 15_000, what: 'three failed flushes' });
    await reporter.close();
    expect(reporter.stats).toMatchObject({ reported: 1, dropped: 1, unsent: 0 });
  });

  it('a wrong REDIS_URL is said once on stderr (with its port), however many flushes fail, and again at close for what was lost', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const reporter = createReporter({
        redisUrl: 'redis://127.0.0.1:1',
        prefix: '{cgtest-unreachable}',
        flushMs: 10,
        flushTimeoutMs: 300,
      });
      reporter.report('twilio', 2);
      // Many reconnect attempts and failed flushes: the event that fences "said once" is the count of failures.
      await waitFor(() => reporter.stats.failedFlushes >= 5, { timeoutMs: 15_000 });
      const said = warn.mock.calls.map((c) => String(c[0]));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/^callguard client: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/? \(connection refused\)/);
      await reporter.close();
      expect(warn.mock.calls.map((c) => String(c[0])).at(-1)).toMatch(/closed with 2 count\(s\) not delivered/);
      expect(warn).toHaveBeenCalledTimes(2);
    } finally {
      warn.mockRestore();
    }
  });

  it("reporterStats() gives the shared reporter's counters (reportError's), zeros before first use", async () => {
    cg = await startTestCallguard(RULES);
    await closeReporter();
    expect(reporterStats()).toEqual({ reported: 0, calls: 0, flushes: 0, dropped: 0, failedFlushes: 0, unsent: 0 });
    const before = { CALLGUARD_PREFIX: process.env.CALLGUARD_PREFIX, REDIS_URL: process.env.REDIS_URL };
    process.env.CALLGUARD_PREFIX = cg.config.prefix;
    process.env.REDIS_URL = cg.config.redisUrl;
    try {
      reportError('twilio', 2);
      expect(reporterStats().reported).toBe(2);
      await waitFor(() => reporterStats().flushes >= 1 && reporterStats().unsent === 0, { timeoutMs: 10_000 });
      await waitFor(async () => ((await cg!.counters.sums()).counts.twilio === 2 ? true : undefined));
    } finally {
      await closeReporter();
      for (const [k, v] of Object.entries(before))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});
