import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import type { Callguard } from '../src/app/callguard.js';
import { JOB } from '../src/jobs/contract.js';
import { finished } from './support/fences.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

let cg: Callguard | undefined;
afterEach(async () => {
  await stopTestCallguard(cg);
  cg = undefined;
});

const rule = (extra: Record<string, unknown> = {}) => ({
  twilio: { threshold_count: 5, window_minutes: 1, log_patterns: ['error when making call via twilio'], ...extra },
});

function dispatchWorker(c: Callguard, stamps: number[]) {
  return createGuardedWorker('calls', async () => void stamps.push(Date.now()), {
    connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
    prefix: c.config.queuePrefix,
    callguardPrefix: c.config.prefix,
    concurrency: 10,
  });
}

async function feed(c: Callguard, n: number) {
  const q = new Queue('calls', { connection: { url: c.config.redisUrl }, prefix: c.config.queuePrefix });
  await q.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'call', data: { i } })));
  await q.close();
}

describe('shadow mode', () => {
  it.each<{ name: string; rules: ReturnType<typeof rule>; env: Record<string, string> }>([
    { name: 'CALLGUARD_AUTO_PAUSE=shadow', rules: rule(), env: { CALLGUARD_AUTO_PAUSE: 'shadow' } },
    { name: 'a rule with "mode": "shadow"', rules: rule({ mode: 'shadow' }), env: {} },
  ])('$name: a trip is recorded as would-pause and no queue is touched', async ({ rules, env }) => {
    cg = await startTestCallguard(rules, { CALLGUARD_AUTO_RESUME_MINUTES: '1', ...env });
    const stamps: number[] = [];
    const worker = dispatchWorker(cg, stamps);
    try {
      cg.reporter.report('twilio', 6);
      await cg.reporter.flush();
      await waitFor(async () => (await cg!.ledger.audit()).some((e) => e.event === 'would-pause'), { what: 'would-pause audited' });
      await feed(cg, 20);
      await waitFor(() => stamps.length === 20, { what: '20 calls processed' });
      expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
      expect(await cg.redis.hlen(cg.keys.covered)).toBe(0);
      const entry = (await cg.ledger.audit()).find((e) => e.event === 'would-pause');
      expect(entry).toMatchObject({ event: 'would-pause', hold: 'rule:twilio', paused: [] });
      // It also "would have resumed" after the continuous clear.
      // A deadline, not a speed: at load 18 the ticks that lead here took over 20 s.
      await waitFor(async () => (await cg!.ledger.audit(1))[0]?.event === 'would-resume', {
        timeoutMs: 45_000,
        what: 'would-resume audited',
      });
    } finally {
      await worker.close();
    }
  });
});

describe('half-open resume', () => {
  it('resumes under the probe rate limit, then without it; no job lost', async () => {
    // No health worker: the test runs each evaluator tick itself, so the probe cannot end between
    // the start it observes and the checks that follow, however slow the machine is.
    cg = await startTestCallguard(
      rule({ probe: { minutes: 3, max_per_minute: 4 } }),
      { CALLGUARD_AUTO_RESUME_MINUTES: '1' },
      { worker: false },
    );
    const tickUntil = (event: string) =>
      waitFor(async () => (await cg!.evaluator.evaluate({ full: true })).changes.some((c) => c.event === event), {
        timeoutMs: 20_000,
        what: `a tick with ${event}`,
      });
    const calls = cg.dispatch.get('calls')!;
    await cg.counters.record(cg.rules[0]!, 5);
    await tickUntil('hold-added');
    expect(await calls.isPaused()).toBe(true);
    await feed(cg, 60);
    const stamps: number[] = [];
    const worker = dispatchWorker(cg, stamps);
    try {
      await tickUntil('probe-started');
      const started = (await cg.ledger.audit()).find((e) => e.event === 'probe-started');
      expect(await calls.isPaused()).toBe(false);
      expect(await calls.getGlobalRateLimit()).toEqual({ max: 4, duration: 1000 });
      await tickUntil('probe-ended');
      const ended = (await cg.ledger.audit()).find((e) => e.event === 'probe-ended');
      // Audit times come from Redis' clock, the same machine's clock as the stamps.
      const [probeStart, probeEnd] = [started!.at, ended!.at];
      const during = stamps.filter((t) => t >= probeStart && t < probeEnd);
      const seconds = (probeEnd - probeStart) / 1000;
      figure(
        `probe: ${during.length} jobs in ${seconds.toFixed(2)} s under a limit of 4 per 1 s minute; first second: ${during.filter((t) => t < probeStart + 1000).length}`,
      );
      // The limiter admits at most 4 per 1 s window; one extra window covers the edges.
      expect(during.length).toBeLessThanOrEqual(4 * (Math.ceil(seconds) + 1));
      expect(during.length).toBeGreaterThan(0);
      expect(await calls.getGlobalRateLimit()).toBeNull();
      await waitFor(() => stamps.length === 60, { timeoutMs: 20_000, what: 'all 60 calls processed' });
      expect(stamps).toHaveLength(60);
    } finally {
      await worker.close();
    }
  });

  it("a queue's own rate limit is saved while the probe limits it and restored when the probe ends", async () => {
    cg = await startTestCallguard(rule({ probe: { minutes: 4, max_per_minute: 3 } }), { CALLGUARD_AUTO_RESUME_MINUTES: '1' });
    const calls = cg.dispatch.get('calls')!;
    await calls.setGlobalRateLimit(7, 60_000);
    cg.reporter.report('twilio', 5);
    await cg.reporter.flush();
    await waitFor(() => calls.isPaused());

    // The probe's limit goes on before the queue resumes.
    await waitFor(async () => (await cg!.ledger.audit(1))[0]?.event === 'probe-started', { timeoutMs: 8000 });
    await waitFor(async () => !(await calls.isPaused()));
    expect(await calls.getGlobalRateLimit()).toEqual({ max: 3, duration: cg.config.minuteMs });

    await waitFor(async () => (await cg!.ledger.audit(1))[0]?.event === 'probe-ended', { timeoutMs: 10_000 });
    await waitFor(async () => (await calls.getGlobalRateLimit())?.max === 7);
    expect(await calls.getGlobalRateLimit()).toEqual({ max: 7, duration: 60_000 });
    expect(await cg.redis.hlen(cg.keys.savedLimits)).toBe(0);
  });

  it('a failure during the probe re-pauses at once and says so', async () => {
    cg = await startTestCallguard(rule({ probe: { minutes: 30, max_per_minute: 2 } }), { CALLGUARD_AUTO_RESUME_MINUTES: '1' });
    const calls = cg.dispatch.get('calls')!;
    cg.reporter.report('twilio', 5);
    await cg.reporter.flush();
    await waitFor(() => calls.isPaused(), { what: 'calls paused' });
    await waitFor(async () => (await cg!.ledger.audit()).some((e) => e.event === 'probe-started'), {
      timeoutMs: 20_000,
      what: 'probe started',
    });
    await waitFor(async () => !(await calls.isPaused()), { what: 'calls resumed for the probe' });

    // The fast check runs inside the report's own job: when BullMQ marks it complete, the queue is
    // paused again and the probe's limit is gone, without waiting for a tick.
    const sent = Date.now();
    const job = await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 5 });
    expect(await finished(cg.events, job.id!)).toMatchObject({ checked: ['twilio'] });
    expect(await calls.isPaused()).toBe(true);
    figure(`re-pause latency during the probe (report job added → job done, queue paused): ${Date.now() - sent} ms`);
    const [added, ended] = await cg.ledger.audit(2);
    expect(ended).toMatchObject({ event: 'probe-ended', reason: 'twilio tripped again during the probe' });
    expect(added).toMatchObject({ event: 'hold-added', paused: ['calls'] });
    expect(added!.reason).toContain('tripped again during the probe');
    expect(await calls.getGlobalRateLimit()).toBeNull();
  });
});
