import { once } from 'node:events';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { JOB } from '../src/jobs/contract.js';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { createLogger } from '../src/ops/logger.js';
import { finished, ticks } from './support/fences.js';
import { startTestCallguard, stopTestCallguard, testRules, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

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

/** Adds an error-report job and waits until the health worker has finished it (fast check included). */
async function reportJob(cg: Callguard, data: unknown) {
  const job = await cg.events.add(JOB.errorReport, data);
  return finished(cg.events, job.id!);
}

describe('counting and tripping', () => {
  it('9 reports do not pause; the 10th pauses within a second (threshold is ≥)', async () => {
    // A long window: the 9 must still count after the evaluator tick we wait for.
    const cg = await start({ twilio: { ...TWILIO.twilio, window_minutes: 30 } });
    await reportJob(cg, { rule: 'twilio', count: 9 });
    await ticks(cg.events); // a full evaluation that saw the 9 passes too
    expect(await calls(cg).isPaused()).toBe(false);
    expect((await cg.counters.sums()).counts.twilio).toBe(9);

    // The fast check runs inside the report's own job, so the pause has landed when BullMQ marks
    // that job complete, without waiting for the next tick (a minute in production).
    const sent = Date.now();
    expect(await reportJob(cg, { rule: 'twilio' })).toMatchObject({ checked: ['twilio'] });
    expect(await calls(cg).isPaused()).toBe(true);
    figure(`trip latency (report job added → job done, queue paused): ${Date.now() - sent} ms`);

    const [entry] = await cg.ledger.audit();
    expect(entry).toMatchObject({ event: 'hold-added', hold: 'rule:twilio', by: 'callguard', paused: ['calls'] });
    expect(entry!.reason).toContain('10 errors in 30 min (threshold 10)');
  });

  it('when a report job runs again after its first run counted but stopped before the fast trip, then the re-run trips the rule', async () => {
    const cg = await start({ twilio: { ...TWILIO.twilio, window_minutes: 30 } });
    // The first run: counted (exactly once, by job id), then the process died before its fast check.
    await cg.counters.recordReport([[cg.rules.find((r) => r.name === 'twilio')!, 10]], 'job:crashed-1');
    expect(await calls(cg).isPaused()).toBe(false);
    const job = await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 }, { jobId: 'crashed-1' });
    expect(await finished(cg.events, job.id!)).toMatchObject({ duplicate: true });
    // Within the re-run's own job, as for a first run: not left to the next tick.
    expect(await calls(cg).isPaused()).toBe(true);
    expect((await cg.counters.sums()).counts.twilio).toBe(10);
  });

  it('the coalescing reporter turns 10,000 calls into a handful of jobs and trips the rule', async () => {
    const cg = await start();
    for (let i = 0; i < 10_000; i++) cg.reporter.report('twilio');
    await cg.reporter.flush();
    expect(cg.reporter.stats).toMatchObject({ reported: 10_000, flushes: 1, dropped: 0 });
    await waitFor(() => calls(cg).isPaused());
    expect((await cg.counters.sums()).counts.twilio).toBe(10_000);
  });

  it('when a rules version shortens a window, then the next read sums the new window, not the sum kept for the old one', async () => {
    const cg = await start({ twilio: { ...TWILIO.twilio, threshold_count: 100, window_minutes: 10 } }, {}, false);
    const rule = cg.rules.find((r) => r.name === 'twilio')!;
    const minute = cg.config.minuteMs;
    const redisBucket = async () => {
      const [s, us] = await cg.redis.time();
      return Math.floor((Number(s) * 1000 + Math.floor(Number(us) / 1000)) / minute);
    };
    // One error in each of five consecutive minutes (Redis' clock).
    const counted: number[] = [];
    while (counted.length < 5) {
      const { now } = await cg.counters.record(rule, 1);
      const b = Math.floor(now / minute);
      counted.push(b);
      await waitFor(async () => (await redisBucket()) > b, { what: 'the next minute' });
    }
    // What a window of `minutes` holds at Redis' `now`, from the buckets counted above.
    const within = (now: number, minutes: number) => counted.filter((b) => b > Math.floor(now / minute) - minutes).length;
    const ten = await cg.counters.sums();
    expect(ten.counts.twilio).toBe(within(ten.now, 10));
    expect(ten.counts.twilio).toBeGreaterThan(3);

    const three = await cg.counters.sums([{ ...rule, windowMinutes: 3 }]);
    expect(three.counts.twilio).toBe(within(three.now, 3));
    // And back: the longer window is summed anew too.
    const again = await cg.counters.sums();
    expect(again.counts.twilio).toBe(within(again.now, 10));
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

  it('window sums of over a thousand counters come back whole, and follow rules changed in place', async () => {
    // 1,100 rules, every tenth a rate rule (four counters each): several script calls, whose
    // arguments the second read takes from the first.
    const json = Object.fromEntries(
      Array.from({ length: 1100 }, (_, i) => [
        `r${i}`,
        i % 10
          ? { threshold_count: 1_000_000, window_minutes: 60, log_patterns: [`p${i}`] }
          : { providers: [`p${i}`], failure_rate: 0.5, min_calls: 1_000_000, window_minutes: 60, log_patterns: [] },
      ]),
    );
    const cg = await start(json, {}, false);
    const entries = cg.rules.flatMap((r, i) => [
      [{ name: r.name, windowMinutes: 60 }, (i % 7) + 1] as const,
      ...(i % 10
        ? []
        : (['calls', 'failures', 'slow'] as const).map((p, k) => [{ name: `${r.name}#${p}`, windowMinutes: 60 }, k + 1] as const)),
    ]);
    await cg.counters.recordReport(entries.map(([c, n]) => [c, n]));
    const expected = Object.fromEntries(entries.map(([c, n]) => [c.name, n]));
    expect((await cg.counters.sums()).counts).toEqual(expected);
    expect((await cg.counters.sums()).counts).toEqual(expected);
    // Another version renames a rule in place and makes a rate rule a plain one: read as they are now.
    cg.rules[1]!.name = 'renamed';
    Object.assign(cg.rules[0]!, { failureRate: undefined });
    const { counts } = await cg.counters.sums();
    expect(counts.renamed).toBe(0);
    expect(counts.r1).toBeUndefined();
    expect(counts.r0).toBe(1);
    expect(counts['r0#calls']).toBeUndefined();
    expect(counts['r10#calls']).toBe(1);
  });

  it('with CALLGUARD_AUTO_PAUSE=off rules are counted but never pause', async () => {
    // A long window: the 50 must still count after the evaluator tick we wait for.
    const cg = await start({ twilio: { ...TWILIO.twilio, window_minutes: 30 } }, { CALLGUARD_AUTO_PAUSE: 'off' });
    await reportJob(cg, { rule: 'twilio', count: 50 });
    await ticks(cg.events);
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
    expect(await calls(cg).isPaused()).toBe(true);
    const pausedAt = Date.now();

    // Errors keep coming through more ticks than the resume delay (2 ticks): the original would
    // have resumed here. Each burst reaches the threshold on its own, so every tick sees it tripped.
    let lastErrorAt = 0;
    for (let tick = 0; tick < 4; tick++) {
      await reportJob(cg, { rule: 'twilio', count: 10 });
      lastErrorAt = Date.now();
      await ticks(cg.events);
      expect(await calls(cg).isPaused()).toBe(true);
    }
    await waitFor(async () => !(await calls(cg).isPaused()), { timeoutMs: 15_000, what: 'the rule hold released' });
    const resumedAt = Date.now();
    figure(`paused ${resumedAt - pausedAt} ms; resumed ${resumedAt - lastErrorAt} ms after the last error`);
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
    await waitFor(async () => (await cg.ledger.list()).every((h) => h.by !== 'bob'), {
      timeoutMs: 15_000,
      what: "bob's hold released by its until",
    });
    await ticks(cg.events, 4); // four more ticks, twice the auto-resume delay
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
    await ticks(cg.events);
    expect(await calls(cg).isPaused()).toBe(false);
  });
});

describe('enforcement', () => {
  it('jobs added to a paused dispatch queue are not processed; all are processed once after resume', async () => {
    const cg = await start();
    const processed: string[] = [];
    await reportJob(cg, { rule: 'twilio', count: 10 });
    expect(await calls(cg).isPaused()).toBe(true);
    const producer = new Queue('calls', { connection: { url: cg.config.redisUrl }, prefix: cg.config.queuePrefix });
    await producer.addBulk(Array.from({ length: 100 }, (_, i) => ({ name: 'call', data: { i } })));
    const worker = createGuardedWorker('calls', async (job) => void processed.push(job.id!), {
      connection: { url: cg.config.redisUrl, maxRetriesPerRequest: null },
      prefix: cg.config.queuePrefix,
      callguardPrefix: cg.config.prefix,
      concurrency: 5,
    });
    try {
      // 'drained': the worker asked the queue for a job and got none, with 100 waiting.
      await once(worker, 'drained', { signal: AbortSignal.timeout(10_000) });
      expect(processed).toEqual([]);
      expect(await producer.getWaitingCount()).toBe(100);

      await cg.control.resume({ by: 'alice' });
      // A completed job is never run again, so 100 completions with 100 runs means once each.
      await waitFor(async () => (await producer.getCompletedCount()) === 100, { what: '100 calls completed' });
      expect(new Set(processed).size).toBe(100);
      expect(processed).toHaveLength(100);
    } finally {
      await worker.close();
      await producer.close();
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
      // Every job was fetched a second time, so its first fetch had ended at the guard.
      await waitFor(
        async () => {
          const jobs = await calls(cg).getJobs(['delayed', 'waiting', 'active', 'completed', 'failed']);
          return jobs.length === 5 && jobs.every((j) => j.attemptsStarted >= 2);
        },
        { what: 'all 5 calls put back by the guard and fetched again' },
      );
      expect(processed).toEqual([]);
      const {
        failed = 0,
        completed = 0,
        delayed = 0,
        waiting = 0,
        active = 0,
      } = await calls(cg).getJobCounts('failed', 'completed', 'delayed', 'waiting', 'active');
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

  it("repairs drift: a queue resumed behind callguard's back is paused again and audited", async () => {
    const cg = await start(TWILIO, {}, false);
    await cg.control.pause({ by: 'alice' });
    // Past the enforcer's in-flight grace (2 s of Redis time since the last hold change).
    await waitFor(async () => (await cg.ledger.now()) - (await cg.ledger.lastChangeAt()) > 2000, { what: 'the in-flight grace passed' });
    await calls(cg).resume();
    await cg.evaluator.evaluate({ full: true });
    expect(await calls(cg).isPaused()).toBe(true);
    const [entry] = await cg.ledger.audit(1);
    expect(entry).toMatchObject({ event: 'drift-repaired', paused: ['calls'] });
  });

  it("never pauses callguard's own events queue", async () => {
    const cg = await start();
    await cg.control.pause({ by: 'alice' });
    expect(await cg.events.isPaused()).toBe(false);
  });
});
