import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { Reporter } from '../src/client/reporter.js';
import { MAX_COUNT } from '../src/jobs/contract.js';
import { freePort } from './support/redis-server.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';

/** Issue 19, item 3: the known part of a report batch is always counted; other names are dropped on their own. */
const RULES = { twilio: { threshold_count: 1000, window_minutes: 5, log_patterns: ['twilio api error'] } };

let cg: Callguard | undefined;
afterEach(async () => {
  await stopTestCallguard(cg);
  cg = undefined;
});

const counted = async () => (await cg!.counters.sums()).counts.twilio ?? 0;
const dropMetric = async (reason: string) => {
  const text = await cg!.metrics.registry.metrics();
  return Number(new RegExp(`^callguard_report_counts_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
};

describe('report names', () => {
  it('when the reporter knows the rules, then twilio’s 5 are counted and each other name is dropped on its own and warned once', async () => {
    cg = await startTestCallguard(RULES);
    const warn = vi.fn();
    const reporter = new Reporter(cg.events, { rules: ['twilio'], warn, flushMs: 10_000 });
    reporter.report('twilio', 5);
    reporter.report('no-such-rule', 1);
    reporter.report('no-such-rule', 1);
    reporter.report('x'.repeat(100), 1);
    await reporter.flush();
    await waitFor(async () => (await counted()) === 5, { what: 'twilio counted' });
    expect(reporter.stats).toMatchObject({ reported: 5, dropped: 3, failedFlushes: 0 });
    const warned = warn.mock.calls.map(([m]) => String(m));
    expect(warned).toHaveLength(2);
    expect(warned[0]).toBe('callguard reporter: dropped counts for "no-such-rule": no rule of that name');
    expect(warned[1]).toMatch(/^callguard reporter: dropped counts for "x{80}": not a rule name/);
  });

  it('when it does not know them, then the worker counts twilio and drops the unknown and the invalid name, each in the metric with its reason', async () => {
    cg = await startTestCallguard(RULES);
    const reporter = new Reporter(cg.events, { warn: () => undefined, flushMs: 10_000 });
    // A name a reporter cannot judge reaches the worker: added straight to the queue, as another BullMQ client would.
    reporter.report('twilio', 5);
    reporter.report('no-such-rule', 1);
    await reporter.flush();
    await cg.events.add('error-report', { counts: { twilio: 2, ['y'.repeat(100)]: 4 } });
    await waitFor(async () => (await counted()) === 7, { what: 'twilio counted from both jobs' });
    await waitFor(async () => (await dropMetric('invalid_rule')) === 4, { what: 'the invalid name in the metric' });
    expect(await dropMetric('unknown_rule')).toBe(1);
    const completed = await cg.events.getJobs(['completed']);
    const results = completed.filter((j) => j.name === 'error-report').map((j) => j.returnvalue as { dropped?: unknown });
    expect(results.map((r) => r.dropped).filter(Boolean)).toEqual(
      expect.arrayContaining([{ 'no-such-rule': 'unknown_rule' }, { ['y'.repeat(80)]: 'invalid_rule' }]),
    );
  });

  it('when Redis cannot be reached, then the reporter says so once, not on every flush', async () => {
    const connection = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    connection.on('error', () => undefined);
    const queue = new Queue('events', { connection });
    queue.on('error', () => undefined);
    const warn = vi.fn();
    const reporter = new Reporter(queue, { warn, flushMs: 10_000, flushTimeoutMs: 500 });
    try {
      for (let i = 0; i < 3; i++) {
        reporter.report('twilio', 1);
        await reporter.flush();
      }
      expect(reporter.stats.failedFlushes).toBeGreaterThanOrEqual(3);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/cannot reach Redis/);
    } finally {
      await reporter.close(0);
      await queue.close().catch(() => undefined);
      connection.disconnect();
    }
  });

  it('when one name storms past the largest count a job takes, then batches are sealed at it; a report after close still goes out', async () => {
    cg = await startTestCallguard({ twilio: { ...RULES.twilio, threshold_count: 10 * MAX_COUNT } });
    const reporter = new Reporter(cg.events, { warn: () => undefined, flushMs: 20 });
    // Single reports of a name already pending take the reporter's fast path.
    for (let i = 0; i < MAX_COUNT + 5; i++) reporter.report('twilio');
    await reporter.close();
    reporter.report('twilio');
    await waitFor(async () => (await counted()) === MAX_COUNT + 6, { what: 'every count, the late one too, in the window' });
    const jobs = (await cg.events.getJobs(['completed'])).filter((j) => j.name === 'error-report');
    expect(jobs.map((j) => (j.data as { counts: { twilio: number } }).counts.twilio).sort((a, b) => a - b)).toEqual([1, 5, MAX_COUNT]);
    expect(reporter.stats).toMatchObject({ reported: MAX_COUNT + 6, dropped: 0 });
  });

  it('when calls reach slow thresholds, then each threshold carries its own count of slow calls in the batch, and the worker takes it', async () => {
    cg = await startTestCallguard(RULES);
    const reporter = new Reporter(cg.events, { warn: () => undefined, flushMs: 10_000 });
    reporter.outcome('twilio', false, 1500, [1000, 3000]);
    reporter.outcome('twilio', true, 3500, [1000, 3000]);
    reporter.outcome('twilio', false, 10, [1000, 3000]);
    reporter.outcome('twilio', false, 5000, [3000]);
    reporter.outcome('plivo', false, 10);
    await reporter.flush();
    const job = await waitFor(async () => (await cg!.events.getJobs(['completed'])).find((j) => j.name === 'error-report'), {
      what: 'the outcomes batch counted',
    });
    expect(job.data).toEqual({
      outcomes: { twilio: { calls: 4, failures: 1, slow: { 1000: 2, 3000: 2 } }, plivo: { calls: 1, failures: 0, slow: {} } },
    });
    expect(reporter.stats).toMatchObject({ calls: 5, dropped: 0 });
  });
});
