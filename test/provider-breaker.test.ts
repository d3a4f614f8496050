/**
 * One breaker shared by every worker (issue 13's "done when"): one `calls` queue with jobs for two
 * providers, four guarded workers in two processes, a simulated provider API that fails (or
 * slows) every twilio call. Real callguard, real BullMQ, real child processes.
 */
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { REDIS_URL, startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { ProviderApi, ProviderWorkers, type Mode } from './support/provider-api.js';
import { figure } from './support/figures.js';

const WORKERS_PER_PROCESS = 2;
const CONCURRENCY = 2;
/** Calls that may already be past their hold check when a hold lands: every worker slot. */
const SLOTS = 2 * WORKERS_PER_PROCESS * CONCURRENCY;

describe('one breaker shared by every worker, per provider', () => {
  let cg: Callguard | undefined;
  let api: ProviderApi | undefined;
  const workers = new ProviderWorkers();
  const closers: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await workers.stop();
    await stopTestCallguard(cg);
    await api?.stop();
    cg = api = undefined;
  });

  async function setup(twilioRule: Record<string, unknown>) {
    const rules = {
      twilio: { window_minutes: 4, log_patterns: [], providers: ['twilio'], ...twilioRule },
      plivo: { window_minutes: 4, log_patterns: [], providers: ['plivo'], failure_rate: 0.5, min_calls: 10 },
    };
    cg = await startTestCallguard(rules, { CALLGUARD_QUEUES: 'calls', CALLGUARD_AUTO_RESUME_MINUTES: '2' });
    api = new ProviderApi();
    await api.start();
    await workers.start(cg, api, rules, { processes: 2, workers: WORKERS_PER_PROCESS, concurrency: CONCURRENCY });
    const queue = new Queue('calls', { connection: { url: REDIS_URL }, prefix: cg.config.queuePrefix });
    const events = new QueueEvents('calls', { connection: { url: REDIS_URL }, prefix: cg.config.queuePrefix });
    await events.waitUntilReady();
    let queuePaused = 0;
    events.on('paused', () => queuePaused++);
    closers.push(
      () => queue.close(),
      () => events.close(),
    );

    // 20 jobs a second for each provider; retried (after a failed call) until they succeed.
    const fed: { twilio: string[]; plivo: string[] } = { twilio: [], plivo: [] };
    let n = 0;
    const feed = async () => {
      n++;
      const jobs = (['twilio', 'plivo'] as const).flatMap((provider) =>
        [0, 1].map((k) => ({
          name: 'call',
          data: { provider },
          opts: { jobId: `${provider}-${n}-${k}`, attempts: 50, backoff: { type: 'fixed', delay: 200 } },
        })),
      );
      await queue.addBulk(jobs);
      for (const j of jobs) fed[j.data.provider].push(j.opts.jobId);
    };
    let feeding: NodeJS.Timeout | undefined = setInterval(() => void feed(), 100);
    const stopFeeding = () => {
      clearInterval(feeding);
      feeding = undefined;
    };
    closers.push(async () => stopFeeding());
    return { cg, api, queue, fed, stopFeeding, pausedEvents: () => queuePaused };
  }

  const holdOf = async (id: string) => (await cg!.ledger.list()).find((h) => h.id === id);
  const auditEvent = async (event: string, hold: string, after = 0) =>
    (await cg!.ledger.audit(500)).find((e) => e.event === event && e.hold === hold && e.at > after);

  /**
   * The trip, the provider hold while the other provider runs, the release and the drain, with
   * `api.mode.twilio` set to `broken` from the start.
   */
  async function tripHoldAndDrain(twilioRule: Record<string, unknown>, broken: Mode) {
    const s = await setup(twilioRule);
    s.api.mode.twilio = broken;

    const hold = await waitFor(() => holdOf('rule:twilio'), { what: 'the twilio rule to trip' });
    expect(hold.providers).toEqual(['twilio']);
    const tripped = s.api.of('twilio', 0).filter((c) => c.start <= hold.since);

    // Fence: plenty of plivo calls placed well after the hold was visible to every worker.
    const fence = hold.since + 1000;
    await waitFor(() => s.api.of('plivo', fence).length >= 40, { timeoutMs: 30_000, what: '40 plivo calls after the hold' });
    const inFlight = s.api.of('twilio', hold.since).filter((c) => c.start <= fence);
    expect(s.api.of('twilio', fence)).toEqual([]);
    expect(inFlight.length).toBeLessThanOrEqual(SLOTS);
    expect((await holdOf('rule:twilio'))?.since).toBe(hold.since);

    // The healthy provider runs at the rate it is fed: every plivo job fed so far completes.
    s.stopFeeding();
    const stoppedAt = Date.now();
    const plivoFed = [...s.fed.plivo];
    await waitFor(async () => (await Promise.all(plivoFed.map((id) => s.queue.getJobState(id)))).every((st) => st === 'completed'), {
      what: 'every plivo job completed while twilio is held',
    });
    const plivoDuringHold = s.api.of('plivo', hold.since).length;
    const stillHeld = (await holdOf('rule:twilio')) !== undefined;

    // Recovery: twilio answers again; the hold is released once the rule has been clear for the delay.
    s.api.mode.twilio = 'ok';
    const released = await waitFor(() => auditEvent('hold-released', 'rule:twilio'), { timeoutMs: 40_000, what: 'the hold released' });
    expect(released.resumed).toEqual(['calls:twilio']);
    const total = s.fed.twilio.length + s.fed.plivo.length;
    await waitFor(async () => (await s.queue.getCompletedCount()) === total, { timeoutMs: 40_000, what: `all ${total} jobs completed` });

    // Jobs in = jobs out, each placed successfully exactly once; the queue itself was never paused.
    expect(await s.queue.getFailedCount()).toBe(0);
    const okCalls = new Map<string, number>();
    for (const c of s.api.calls.filter((c) => c.ok)) okCalls.set(c.job, (okCalls.get(c.job) ?? 0) + 1);
    expect([...okCalls.keys()].sort()).toEqual([...s.fed.twilio, ...s.fed.plivo].sort());
    expect([...okCalls.values()].every((k) => k === 1)).toBe(true);
    expect(s.pausedEvents()).toBe(0);
    expect(await s.queue.isPaused()).toBe(false);
    const audit = await cg!.ledger.audit(500);
    expect(audit.flatMap((e) => e.paused)).not.toContain('calls');
    // Held jobs wait parked, not cycling: a job that arrived while held is fetched to be parked, then to run.
    const heldJobs = (await Promise.all(s.fed.twilio.map((id) => s.queue.getJob(id)))).filter((j) => j!.timestamp > fence);
    const fetches = heldJobs.map((j) => j!.attemptsStarted);
    expect(heldJobs.length).toBeGreaterThan(0);
    // Under a probe they also come back for a free slot of the per-minute allowance, a few times each.
    if (!twilioRule.probe) expect(Math.max(...fetches)).toBeLessThanOrEqual(3);
    const afterRelease = s.api.of('twilio', released.at);
    const plivo = s.api.of('plivo');
    const perSecond = (from: number, to: number) =>
      Math.round((plivo.filter((c) => c.start > from && c.start <= to).length / (to - from)) * 10_000) / 10;
    const figures = {
      plivoPerSecondBeforeHold: perSecond(plivo[0]!.start, hold.since),
      plivoPerSecondWhileHeld: perSecond(hold.since, stoppedAt),
      trippedAfterCalls: tripped.length,
      inFlightAtHold: inFlight.length,
      plivoCallsWhileHeld: plivoDuringHold,
      heldUntilPlivoDrained: stillHeld,
      firstTwilioCallAfterReleaseMs: afterRelease.length ? afterRelease[0]!.start - released.at : null,
      jobs: total,
      heldJobs: heldJobs.length,
      mostFetchesOfAHeldJob: Math.max(...fetches),
    };
    figure(`shared breaker (${broken}): ${JSON.stringify(figures)}`);
    return { ...s, hold, released };
  }

  it('when one provider fails every call, then a failure-rate rule holds only its jobs, the other provider keeps running, and the held jobs drain after recovery', async () => {
    await tripHoldAndDrain({ failure_rate: 0.5, min_calls: 10 }, 'fail');
  });

  it('when one provider answers slowly, then a slow-call rule holds only its jobs and the held jobs drain after recovery', async () => {
    await tripHoldAndDrain({ slow_call_ms: 200, slow_call_rate: 0.5, min_calls: 10 }, 'slow');
  });

  it('when the provider recovers under a probe, then at most max_per_minute of its calls run in any minute across both processes', async () => {
    const max = 5;
    const { api, released } = await tripHoldAndDrain(
      { failure_rate: 0.5, min_calls: 10, probe: { minutes: 3, max_per_minute: max } },
      'fail',
    );
    const started = await waitFor(() => auditEvent('probe-started', 'rule:twilio', 0), { what: 'the probe' });
    const ended = await waitFor(() => auditEvent('probe-ended', 'rule:twilio', 0), { timeoutMs: 30_000, what: 'the probe to end' });
    expect(started.at).toBeGreaterThanOrEqual(released.at);
    const during = api.of('twilio', started.at).filter((c) => c.start < ended.at);
    expect(during.length).toBeGreaterThan(0);
    // Any `max + 1` calls in a row span at least a minute (1 s here), give or take the trip from the guard to the API.
    const minute = cg!.config.minuteMs;
    const spans = during.slice(max).map((c, i) => c.start - during[i]!.start);
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(minute - 100);
    figure(
      `probe: ${during.length} twilio calls in ${ended.at - started.at} ms at most ${max} per ${minute} ms; shortest span of ${max + 1} calls ${Math.min(...spans)} ms`,
    );
  });
  it('when a rule throttles on trip, then the failing provider runs at most max_per_minute calls a minute across both processes and the others at full speed', async () => {
    const max = 4;
    const s = await setup({ failure_rate: 0.5, min_calls: 10, on_trip: { max_per_minute: max } });
    s.api.mode.twilio = 'fail';
    const started = await waitFor(() => auditEvent('throttle-started', 'rule:twilio'), { what: 'the throttle' });
    // Calls checked before the limit was written may still start; from half a second on, the limit holds.
    const from = started.at + 500;
    await waitFor(() => s.api.of('twilio', from).length >= 3 * max + 1, { timeoutMs: 30_000, what: 'throttled twilio calls' });
    s.stopFeeding();
    const during = s.api.of('twilio', from);
    const spans = during.slice(max).map((c, i) => c.start - during[i]!.start);
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(cg!.config.minuteMs - 100);
    const plivoWhileThrottled = s.api.of('plivo', from).filter((c) => c.start <= during.at(-1)!.start).length;
    expect(plivoWhileThrottled).toBeGreaterThan(during.length);

    s.api.mode.twilio = 'ok';
    await waitFor(() => auditEvent('throttle-ended', 'rule:twilio'), { timeoutMs: 40_000, what: 'the throttle to end' });
    const total = s.fed.twilio.length + s.fed.plivo.length;
    await waitFor(async () => (await s.queue.getCompletedCount()) === total, { timeoutMs: 40_000, what: `all ${total} jobs completed` });
    expect(await s.queue.getFailedCount()).toBe(0);
    expect(s.pausedEvents()).toBe(0);
    figure(
      `throttle: ${during.length} twilio calls at most ${max} per ${cg!.config.minuteMs} ms (shortest span of ${max + 1}: ${Math.min(...spans)} ms); ${plivoWhileThrottled} plivo calls meanwhile`,
    );
  });

  it('when the provider still fails during the probe, then the probe calls trip it again at once and its jobs are held again', async () => {
    const max = 5;
    const s = await setup({ failure_rate: 0.5, min_calls: 10, probe: { minutes: 10, max_per_minute: max } });
    s.api.mode.twilio = 'fail';
    await waitFor(() => holdOf('rule:twilio'), { what: 'the twilio rule to trip' });
    const probe = await waitFor(() => auditEvent('probe-started', 'rule:twilio'), { timeoutMs: 40_000, what: 'the probe' });
    // The probe's calls fail too: min_calls counts as max_per_minute while probing, so a few are enough.
    const again = await waitFor(
      async () => (await cg!.ledger.audit(500)).find((e) => e.event === 'hold-added' && e.hold === 'rule:twilio' && e.at >= probe.at),
      { timeoutMs: 20_000, what: 'the rule to trip again during the probe' },
    );
    expect(again.reason).toContain('tripped again during the probe');
    expect(again.paused).toEqual(['calls:twilio']);
    const probeCalls = s.api.of('twilio', probe.at).filter((c) => c.start <= again.at);
    expect(probeCalls.length).toBeGreaterThanOrEqual(1);
    expect(probeCalls.length).toBeLessThanOrEqual(max);
    // Held again: once the hold is visible, no twilio call starts, while plivo runs on.
    const fence = again.at + 1000;
    await waitFor(() => s.api.of('plivo', fence).length >= 20, { timeoutMs: 30_000, what: '20 plivo calls after the re-hold' });
    expect(s.api.of('twilio', fence)).toEqual([]);
    s.stopFeeding();
    expect(s.pausedEvents()).toBe(0);
    figure(`probe re-hold: ${probeCalls.length} failed probe calls tripped it again ${again.at - probe.at} ms into the probe`);
  });
});
