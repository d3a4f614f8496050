import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { createReporter } from '../src/client/index.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { PrivateRedis } from './support/redis-server.js';
import { figure } from './support/figures.js';

const RULES = {
  twilio: { threshold_count: 1000, window_minutes: 10, log_patterns: ['error when making call via twilio'] },
  soniox: { threshold_count: 1000, window_minutes: 10, log_patterns: ['soniox stream closed'] },
};

describe('counting exactly once', () => {
  let cg: Callguard | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await stopTestCallguard(cg);
    cg = undefined;
    await redis?.stop();
    redis = undefined;
  });

  it('when a report job with the same id runs again after it was counted and removed, then nothing is added', async () => {
    cg = await startTestCallguard(RULES);
    const events = new Queue('events', { connection: cg.redis, prefix: cg.config.prefix });
    const finished = new QueueEvents('events', { connection: { url: cg.config.redisUrl }, prefix: cg.config.prefix });
    try {
      await finished.waitUntilReady();
      const first = await events.add('error-report', { counts: { twilio: 3, soniox: 2 } }, { jobId: 'batch-1' });
      expect(await first.waitUntilFinished(finished, 30_000)).toMatchObject({ counted: { twilio: 3, soniox: 2 } });
      await first.remove();
      const again = await events.add('error-report', { counts: { twilio: 3, soniox: 2 } }, { jobId: 'batch-1' });
      expect(await again.waitUntilFinished(finished, 30_000)).toMatchObject({ duplicate: true });
      expect((await cg.counters.sums()).counts).toEqual({ twilio: 3, soniox: 2 });
    } finally {
      await finished.close();
      await events.close();
    }
  });

  it('when a cancellation runs twice (resent after a reconnect), then it still says cancelled, and a counted report stays counted', async () => {
    cg = await startTestCallguard(RULES, {}, { worker: false });
    expect(await cg.counters.cancelReport('job:late')).toBe(true);
    // The resend of the same call: the report was answered unavailable, so it must not read as counted.
    expect(await cg.counters.cancelReport('job:late')).toBe(true);
    const twilio = cg.rules.find((r) => r.name === 'twilio')!;
    expect((await cg.counters.recordReport([[twilio, 4]], 'job:late')).counted).toBe(false);

    expect((await cg.counters.recordReport([[twilio, 2]], 'job:landed')).counted).toBe(true);
    expect(await cg.counters.cancelReport('job:landed')).toBe(false);
    expect((await cg.counters.sums()).counts.twilio).toBe(2);
  });

  it('when Redis is away, the reporter keeps its counts and lands them once within a second or so of Redis returning', async () => {
    redis = await PrivateRedis.start();
    const prefix = '{cgtest-reporter-outage}';
    const reporter = createReporter({ redisUrl: redis.url, prefix, flushMs: 20, flushTimeoutMs: 300 });
    try {
      await redis.stop();
      for (let i = 0; i < 100; i++) reporter.report(i % 2 ? 'twilio' : 'soniox');
      await waitFor(() => reporter.stats.failedFlushes >= 2);
      expect(reporter.stats).toMatchObject({ reported: 100, dropped: 0, unsent: 100 });
      await redis.restart();
      const back = performance.now();
      await waitFor(() => reporter.stats.unsent === 0, { timeoutMs: 10_000 });
      figure(`reporter landed its kept counts ${Math.round(performance.now() - back)} ms after Redis returned`);
      const queue = new Queue('events', { connection: { url: redis.url }, prefix });
      try {
        const jobs = await queue.getJobs(['waiting']);
        const landed: Record<string, number> = {};
        for (const job of jobs)
          for (const [rule, n] of Object.entries((job.data as { counts: Record<string, number> }).counts))
            landed[rule] = (landed[rule] ?? 0) + n;
        expect(landed).toEqual({ twilio: 50, soniox: 50 });
      } finally {
        await queue.close();
      }
      expect(reporter.stats.dropped).toBe(0);
    } finally {
      await reporter.close(1000);
    }
  });

  it('when Redis is frozen, close() returns within its timeout and counts what it could not send', async () => {
    redis = await PrivateRedis.start();
    const reporter = createReporter({ redisUrl: redis.url, prefix: '{cgtest-reporter-frozen}', flushMs: 20, flushTimeoutMs: 200 });
    reporter.report('twilio');
    await waitFor(() => reporter.stats.flushes === 1 && reporter.stats.unsent === 0);
    redis.freeze();
    reporter.report('twilio', 5);
    const t0 = performance.now();
    await reporter.close(500);
    const ms = performance.now() - t0;
    figure(`close() with Redis frozen returned after ${Math.round(ms)} ms (timeout 500 ms)`);
    expect(ms).toBeLessThan(3000);
    expect(reporter.stats).toMatchObject({ reported: 6, dropped: 5, unsent: 0 });
  });
});

describe('a reporter in a storm', () => {
  let cg: Callguard | undefined;
  afterEach(async () => {
    await stopTestCallguard(cg);
    cg = undefined;
  });

  it('when one rule gets more errors than one job may carry, then the batch is split and every error is counted', async () => {
    cg = await startTestCallguard(RULES);
    const reporter = createReporter({ redisUrl: cg.config.redisUrl, prefix: cg.config.prefix, flushMs: 50 });
    try {
      reporter.report('twilio', 1_500_000);
      reporter.report('twilio', 700_000);
      await reporter.flush();
      expect(reporter.stats).toMatchObject({ reported: 2_200_000, dropped: 0, unsent: 0, flushes: 3 });
      await waitFor(async () => (await cg!.counters.sums()).counts.twilio === 2_200_000, { what: 'all 2.2 M errors counted' });
    } finally {
      await reporter.close();
    }
  });
});
