import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { JOB } from '../src/jobs/contract.js';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { createLogger } from '../src/ops/logger.js';
import { sleep, startTestCallguard, stopTestCallguard, testRules, waitFor } from './support/harness.js';

const TWILIO = { twilio: { threshold_count: 10, window_minutes: 2, log_patterns: ['error when making call via twilio'] } };

let cgs: Callguard[] = [];
afterEach(async () => {
  // Instances sharing a prefix are stopped first, then the prefix is cleaned once.
  for (const cg of cgs.slice(1)) await cg.stop();
  await stopTestCallguard(cgs[0]);
  cgs = [];
});

async function start(rules: Record<string, unknown> = TWILIO, env: Record<string, string> = {}, worker = true) {
  const cg = await startTestCallguard(rules, env, { worker });
  cgs.push(cg);
  return cg;
}

const calls = (cg: Callguard) => cg.dispatch.get('calls')!;

async function reportJob(cg: Callguard, data: unknown) {
  const job = await cg.events.add(JOB.errorReport, data);
  const events = new QueueEvents(cg.events.name, { connection: { url: cg.config.redisUrl }, prefix: cg.config.prefix });
  try {
    await events.waitUntilReady();
    return await job.waitUntilFinished(events, 5000);
  } finally {
    await events.close();
  }
}

describe('counting and tripping', () => {
  it('9 reports do not pause; the 10th pauses within a second (threshold is ≥)', async () => {
    // A long window: the 9 must still count after the evaluator tick we wait for.
    const cg = await start({ twilio: { ...TWILIO.twilio, window_minutes: 30 } });
    await reportJob(cg, { rule: 'twilio', count: 9 });
    await sleep(1100); // an evaluator tick passes too
    expect(await calls(cg).isPaused()).toBe(false);
    expect((await cg.counters.sums()).counts.twilio).toBe(9);

    const sent = Date.now();
    await cg.events.add(JOB.errorReport, { rule: 'twilio' });
    await waitFor(() => calls(cg).isPaused(), { intervalMs: 5 });
    const latency = Date.now() - sent;
    expect(latency).toBeLessThan(1000);
    console.log(`trip latency (report job added → queue paused): ${latency} ms`);

    const [entry] = await cg.ledger.audit();
    expect(entry).toMatchObject({ event: 'hold-added', hold: 'rule:twilio', by: 'callguard', paused: ['calls'] });
    expect(entry!.reason).toContain('10 errors in 30 min (threshold 10)');
  });

  it('the coalescing reporter turns 10,000 calls into a handful of jobs and trips the rule', async () => {
    const cg = await start();
    for (let i = 0; i < 10_000; i++) cg.reporter.report('twilio');
    await cg.reporter.flush();
    expect(cg.reporter.stats).toMatchObject({ reported: 10_000, flushes: 1, dropped: 0 });
    await waitFor(() => calls(cg).isPaused());
    expect((await cg.counters.sums()).counts.twilio).toBe(10_000);
  });

  it('bad error-report jobs fail at once, without retries, naming the problem', async () => {
    const cg = await start();
    await expect(reportJob(cg, { rule: 'nope' })).rejects.toThrow('unknown rule: nope');
    await expect(reportJob(cg, { rule: 'twilio', count: -3 })).rejects.toThrow('invalid error-report data');
    await expect(reportJob(cg, { counts: { twilio: 'x' } })).rejects.toThrow('invalid error-report data');
    const failed = await cg.events.getFailed();
    expect(failed).toHaveLength(3);
    for (const job of failed) expect(job.attemptsMade).toBe(1);
    expect((await cg.counters.sums()).counts.twilio).toBe(0);
  });

  it('buckets expire after the longest window, not a fixed time', async () => {
    const cg = await start({ ...TWILIO, slow: { threshold_count: 100, window_minutes: 7, log_patterns: ['slow provider timed out'] } });
    await reportJob(cg, { rule: 'twilio', count: 1 });
    const ttl = await cg.redis.pttl(cg.keys.counts('twilio'));
    expect(ttl).toBeGreaterThan(7_000);
    expect(ttl).toBeLessThanOrEqual(8_000); // (7 + 1) minutes of 1 s
  });

  it('with CALLGUARD_AUTO_PAUSE=off rules are counted but never pause', async () => {
    const cg = await start(TWILIO, { CALLGUARD_AUTO_PAUSE: 'off' });
    await reportJob(cg, { rule: 'twilio', count: 50 });
    await sleep(1200);
    expect((await cg.counters.sums()).counts.twilio).toBe(50);
    expect(await calls(cg).isPaused()).toBe(false);
    expect(await cg.ledger.list()).toEqual([]);
  });
});

describe('resuming', () => {
  it('late clearing: resumes only after the rule stayed clear for the full delay, counted from when it cleared', async () => {
    // minute = 1 s, auto-resume = 2 minutes, window = 2 minutes
    const cg = await start();
    await reportJob(cg, { rule: 'twilio', count: 10 });
    await waitFor(() => calls(cg).isPaused());
    const pausedAt = Date.now();

    // Errors keep coming for longer than the resume delay: the original would have resumed here.
    let lastErrorAt = 0;
    while (Date.now() - pausedAt < 3500) {
      cg.reporter.report('twilio', 8);
      await cg.reporter.flush();
      lastErrorAt = Date.now();
      expect(await calls(cg).isPaused()).toBe(true);
      await sleep(200);
    }
    await waitFor(async () => !(await calls(cg).isPaused()), { timeoutMs: 15_000, intervalMs: 25 });
    const resumedAt = Date.now();
    console.log(`paused ${resumedAt - pausedAt} ms; resumed ${resumedAt - lastErrorAt} ms after the last error`);
    expect(resumedAt - lastErrorAt).toBeGreaterThanOrEqual(2000);
    const [released] = await cg.ledger.audit(1);
    expect(released).toMatchObject({ event: 'hold-released', hold: 'rule:twilio', by: 'callguard', resumed: ['calls'] });
  });

  it('a manual hold is never released automatically; its until releases it', async () => {
    const cg = await start();
    await cg.control.pause({ by: 'alice', reason: 'carrier maintenance' });
    const until = Date.now() + 2500;
    await cg.control.pause({ by: 'bob', reason: 'short window', queues: ['calls'], until });
    expect(await calls(cg).isPaused()).toBe(true);
    await sleep(4000); // four ticks, twice the auto-resume delay
    const holds = await cg.ledger.list();
    expect(holds.map((h) => h.by)).toEqual(['alice']);
    expect(await calls(cg).isPaused()).toBe(true);
    const audit = await cg.ledger.audit();
    expect(audit.find((e) => e.event === 'hold-released')).toMatchObject({ by: 'callguard', reason: expect.stringContaining('until') });
  });

  it('a manual resume releases every hold and restarts the rule windows', async () => {
    const cg = await start();
    await reportJob(cg, { rule: 'twilio', count: 12 });
    await cg.control.pause({ by: 'alice' });
    const { released } = await cg.control.resume({ by: 'carol' });
    expect(released.map((h) => h.id).sort()).toEqual(expect.arrayContaining(['rule:twilio']));
    expect(released).toHaveLength(2);
    expect(await calls(cg).isPaused()).toBe(false);
    expect((await cg.counters.sums()).counts.twilio).toBe(0);
    await sleep(1200);
    expect(await calls(cg).isPaused()).toBe(false);
  });
});

describe('enforcement', () => {
  it('jobs added to a paused dispatch queue are not processed; all are processed once after resume', async () => {
    const cg = await start();
    const processed: string[] = [];
    const worker = createGuardedWorker('calls', async (job) => void processed.push(job.id!), {
      connection: { url: cg.config.redisUrl, maxRetriesPerRequest: null },
      prefix: cg.config.queuePrefix,
      callguardPrefix: cg.config.prefix,
      concurrency: 5,
    });
    try {
      await reportJob(cg, { rule: 'twilio', count: 10 });
      await waitFor(() => calls(cg).isPaused());
      const producer = new Queue('calls', { connection: { url: cg.config.redisUrl }, prefix: cg.config.queuePrefix });
      await producer.addBulk(Array.from({ length: 100 }, (_, i) => ({ name: 'call', data: { i } })));
      await sleep(1000);
      expect(processed).toEqual([]);
      expect(await producer.getWaitingCount()).toBe(100);

      await cg.control.resume({ by: 'alice' });
      await waitFor(() => processed.length === 100);
      await sleep(200);
      expect(new Set(processed).size).toBe(100);
      expect(processed).toHaveLength(100);
      await producer.close();
    } finally {
      await worker.close();
    }
  });

  it('the guarded worker puts back a job it fetched after a hold landed, and runs it after resume', async () => {
    const cg = await start(TWILIO, {}, false);
    const processed: number[] = [];
    // The hold is in the ledger but the queue is not paused yet: the window the guard closes.
    await cg.ledger.change({ add: [{ id: 'manual:race', kind: 'manual', scope: 'all', by: 'alice', reason: 'race' }] });
    const worker = createGuardedWorker<{ i: number }>('calls', async (job) => void processed.push(job.data.i), {
      connection: { url: cg.config.redisUrl, maxRetriesPerRequest: null },
      prefix: cg.config.queuePrefix,
      callguardPrefix: cg.config.prefix,
      retryDelayMs: 200,
    });
    try {
      await calls(cg).addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'call', data: { i } })));
      await sleep(800);
      expect(processed).toEqual([]);
      const { failed = 0, completed = 0, delayed = 0, waiting = 0, active = 0 } = await calls(cg).getJobCounts('failed', 'completed', 'delayed', 'waiting', 'active');
      expect(failed + completed).toBe(0);
      expect(delayed + waiting + active).toBe(5);

      await cg.control.releaseIds(['manual:race'], 'alice', 'done');
      await waitFor(() => processed.length === 5);
      expect(processed.sort()).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await worker.close();
    }
  });

  it('two evaluators at once produce one transition and one audit entry', async () => {
    const a = await start(TWILIO, {}, false);
    const config = a.config;
    const b = await createCallguard(config, testRules(TWILIO, config.queues), { logger: createLogger('silent') });
    cgs.push(b);
    for (let round = 0; round < 10; round++) {
      await a.counters.record(a.rules[0]!, 10);
      const results = await Promise.all([a.evaluator.evaluate({ full: true }), b.evaluator.evaluate({ full: true })]);
      expect(results.flatMap((r) => r.changes)).toHaveLength(1);
      expect(await calls(a).isPaused()).toBe(true);
      await a.control.resume({ by: 'test' });
    }
    const audit = await a.ledger.audit(100);
    expect(audit.filter((e) => e.event === 'hold-added')).toHaveLength(10);
    expect(audit.filter((e) => e.event === 'drift-repaired')).toHaveLength(0);
  });

  it('repairs drift: a queue resumed behind callguard\'s back is paused again and audited', async () => {
    const cg = await start(TWILIO, {}, false);
    await cg.control.pause({ by: 'alice' });
    await sleep(2100); // past the in-flight grace
    await calls(cg).resume();
    await cg.evaluator.evaluate({ full: true });
    expect(await calls(cg).isPaused()).toBe(true);
    const [entry] = await cg.ledger.audit(1);
    expect(entry).toMatchObject({ event: 'drift-repaired', paused: ['calls'] });
  });

  it('never pauses callguard\'s own events queue', async () => {
    const cg = await start();
    await cg.control.pause({ by: 'alice' });
    expect(await cg.events.isPaused()).toBe(false);
  });
});
