/**
 * Failover shared by every worker (issue 21's "done when"): one `calls` queue fed 20 jobs a
 * second, each job's candidates ['twilio', 'plivo'], four guarded workers in two processes, a
 * simulated twilio that fails every call and a plivo with a capacity. Real callguard, real
 * BullMQ, real child processes; a minute is a second.
 */
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { REDIS_URL, startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { feedCalls, Grants, ProviderApi, ProviderWorkers, shortestSpan } from './support/provider-api.js';
import { figure } from './support/figures.js';

const PROCESSES = 2;
const WORKERS_PER_PROCESS = 2;
const CONCURRENCY = 2;
/** Calls that may already be past their check when a hold lands: every worker slot. */
const SLOTS = PROCESSES * WORKERS_PER_PROCESS * CONCURRENCY;

// Each test waits on deadlines (trip, probe, release, drain) longer together than the default timeout.
describe('failover across providers, shared by every worker', () => {
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

  async function setup(plivoPerSecond: number, twilioRule: Record<string, unknown> = {}) {
    // Windows of 6 s and a clear delay of 2 s: the hold lasts well past the outage measured here.
    const rules = {
      rules: {
        twilio: { window_minutes: 6, log_patterns: [], providers: ['twilio'], failure_rate: 0.5, min_calls: 10, ...twilioRule },
        plivo: { window_minutes: 6, log_patterns: [], providers: ['plivo'], failure_rate: 0.5, min_calls: 10 },
      },
      providers: { plivo: { max_per_second: plivoPerSecond } },
    };
    cg = await startTestCallguard(rules, { CALLGUARD_QUEUES: 'calls', CALLGUARD_AUTO_RESUME_MINUTES: '2' });
    api = new ProviderApi();
    await api.start();
    await workers.start(cg, api, rules, {
      processes: PROCESSES,
      workers: WORKERS_PER_PROCESS,
      concurrency: CONCURRENCY,
      env: { CANDIDATES: 'twilio,plivo' },
    });
    const queue = new Queue('calls', { connection: { url: REDIS_URL }, prefix: cg.config.queuePrefix });
    closers.push(() => queue.close());

    // 20 jobs a second, retried (after a failed call) until they succeed.
    const feeding = feedCalls(queue);
    closers.push(async () => feeding.stop());
    return { cg, api, queue, fed: feeding.fed, fedBetween: feeding.fedBetween, stopFeeding: feeding.stop };
  }

  const holdOf = async (id: string) => (await cg!.ledger.list()).find((h) => h.id === id);
  const auditEvent = async (event: string, hold: string, after = 0) =>
    (await cg!.ledger.audit(500)).find((e) => e.event === event && e.hold === hold && e.at > after);

  /** Every job fed completed, each placed successfully exactly once, none failed. */
  async function everyJobOnce(s: Awaited<ReturnType<typeof setup>>) {
    await s.stopFeeding();
    const total = s.fed.size;
    await waitFor(async () => (await s.queue.getCompletedCount()) === total, { timeoutMs: 40_000, what: `all ${total} jobs completed` });
    expect(await s.queue.getFailedCount()).toBe(0);
    const okCalls = new Map<string, number>();
    for (const c of s.api.calls.filter((c) => c.ok)) okCalls.set(c.job, (okCalls.get(c.job) ?? 0) + 1);
    expect([...okCalls.keys()].sort()).toEqual([...s.fed.keys()].sort());
    expect([...okCalls.values()].every((k) => k === 1)).toBe(true);
    return total;
  }

  it('when twilio fails every call, then its hold sends every job to plivo within its capacity, the probe goes to twilio first, and traffic returns to twilio', async () => {
    const cap = 30;
    const probeMax = 5;
    const s = await setup(cap, { probe: { minutes: 2, max_per_minute: probeMax } });
    const plivoGrants = new Grants(cg!.redis, cg!.keys.capacityLog('plivo'), 1000);
    const probeGrants = new Grants(cg!.redis, cg!.keys.rateLog('calls:twilio'), cg!.config.minuteMs);
    closers.push(
      () => plivoGrants.stop(),
      () => probeGrants.stop(),
    );
    s.api.mode.twilio = 'fail';

    const hold = await waitFor(() => holdOf('rule:twilio'), { what: 'the twilio rule to trip' });
    expect(hold.providers).toEqual(['twilio']);
    // From the hold's commit on, only calls already past their check start (at most one per slot);
    // once the hold is visible everywhere none does, while plivo places the calls.
    const fence = hold.since + 1000;
    const outageEnd = fence + 4000;
    await waitFor(() => Date.now() > outageEnd && s.api.of('plivo', outageEnd).length > 0, {
      timeoutMs: 30_000,
      what: 'four seconds of outage',
    });
    expect(s.api.of('twilio', hold.since).filter((c) => c.start <= fence).length).toBeLessThanOrEqual(SLOTS);
    expect(s.api.of('twilio', fence)).toEqual([]);
    expect((await holdOf('rule:twilio'))?.since).toBe(hold.since);
    const completedOnPlivo = s.api.of('plivo', fence).filter((c) => c.ok && c.start <= outageEnd).length;
    const fedDuring = s.fedBetween(fence, outageEnd);
    expect(completedOnPlivo / fedDuring).toBeGreaterThanOrEqual(0.95);
    // Where the jobs went is counted once per job by the guard, shared by every worker.
    const failedOver = Number(await cg!.redis.hget(cg!.keys.failovers, 'calls|twilio|plivo'));
    expect(failedOver).toBeGreaterThanOrEqual(completedOnPlivo);
    expect(await cg!.redis.hget(cg!.keys.failovers, 'route|calls:twilio')).toBe('plivo');
    const metric = (await cg!.metrics.registry.getSingleMetric('callguard_jobs_failed_over_total')!.get()).values;
    expect(metric.find((v) => v.labels.from === 'twilio' && v.labels.to === 'plivo')?.value).toBeGreaterThanOrEqual(failedOver);

    // Recovery: twilio answers again; the hold gives way to a probe once the rule has been clear.
    s.api.mode.twilio = 'ok';
    const probe = await waitFor(() => auditEvent('probe-started', 'rule:twilio'), { timeoutMs: 40_000, what: 'the probe' });
    const ended = await waitFor(() => auditEvent('probe-ended', 'rule:twilio'), { timeoutMs: 30_000, what: 'the probe to end' });
    // The probe's allowance goes to twilio (first in every job's list); the rest still go to plivo.
    const probeCalls = s.api.of('twilio', probe.at).filter((c) => c.start <= ended.at);
    const minute = cg!.config.minuteMs;
    const probeMinutes = Math.floor((ended.at - probe.at) / minute);
    expect(probeCalls.length).toBeGreaterThanOrEqual(probeMax * Math.max(1, probeMinutes - 1));
    // At most probeMax let through in any minute, across both processes (the guards' own times).
    const probeSpan = shortestSpan(await probeGrants.stop(), probeMax);
    expect(probeSpan).toBeGreaterThanOrEqual(minute);
    expect(s.api.of('plivo', probe.at).filter((c) => c.start <= ended.at).length).toBeGreaterThan(0);
    // After the probe, traffic returns to the preference order: new jobs all go to twilio.
    const back = ended.at + 1000;
    await waitFor(() => s.fedBetween(back, Infinity) >= 20, { what: 'a second of jobs after the probe' });
    const total = await everyJobOnce(s);
    const newJobs = new Set([...s.fed].filter(([, t]) => t > back).map(([id]) => id));
    const placedAfter = s.api.calls.filter((c) => c.ok && newJobs.has(c.job));
    expect(placedAfter.length).toBe(newJobs.size);
    expect(placedAfter.every((c) => c.provider === 'twilio')).toBe(true);

    // Plivo's capacity was never exceeded: no second (sliding) held more than `cap` of its calls.
    const granted = await plivoGrants.stop();
    expect(granted.length).toBeGreaterThanOrEqual(s.api.of('plivo').length);
    const plivoSpan = shortestSpan(granted, cap);
    expect(plivoSpan).toBeGreaterThanOrEqual(1000);
    const seenAtApi = shortestSpan(
      s.api.of('plivo').map((c) => c.start),
      cap,
    );
    figure(
      `failover: ${completedOnPlivo} completed on plivo of ${fedDuring} fed over ${outageEnd - fence} ms of outage (${Math.round((completedOnPlivo / fedDuring) * 1000) / 10} %); ` +
        `${failedOver} jobs failed over; plivo's busiest ${cap + 1} calls spanned ${plivoSpan} ms (${seenAtApi} ms as the API saw them); ` +
        `probe: ${probeCalls.length} twilio calls in ${ended.at - probe.at} ms (busiest ${probeMax + 1} spanned ${probeSpan} ms); ${newJobs.size} jobs after it all on twilio; ${total} jobs, each placed once`,
    );
  }, 150_000);

  it('when plivo takes fewer calls than are fed, then the surplus parks while twilio is held and drains after the release, nothing lost', async () => {
    const cap = 10;
    const s = await setup(cap);
    const plivoGrants = new Grants(cg!.redis, cg!.keys.capacityLog('plivo'), 1000);
    closers.push(() => plivoGrants.stop());
    s.api.mode.twilio = 'fail';
    const hold = await waitFor(() => holdOf('rule:twilio'), { what: 'the twilio rule to trip' });
    const parkedKey = cg!.keys.parked('calls:twilio');
    await waitFor(async () => (await cg!.redis.zcard(parkedKey)) >= 20, { timeoutMs: 30_000, what: 'the surplus parked' });
    const fence = hold.since + 1000;
    await waitFor(() => Date.now() > fence + 3000, { timeoutMs: 30_000, what: 'three seconds of outage' });
    expect(s.api.of('twilio', fence)).toEqual([]);
    const parked = await cg!.redis.zcard(parkedKey);

    s.api.mode.twilio = 'ok';
    const released = await waitFor(() => auditEvent('hold-released', 'rule:twilio'), { timeoutMs: 40_000, what: 'the hold released' });
    expect(released.resumed).toEqual(['calls:twilio']);
    const total = await everyJobOnce(s);
    expect(await cg!.redis.exists(parkedKey)).toBe(0);
    const granted = await plivoGrants.stop();
    expect(granted.length).toBeGreaterThanOrEqual(s.api.of('plivo').length);
    const plivoSpan = shortestSpan(granted, cap);
    expect(plivoSpan).toBeGreaterThanOrEqual(1000);
    const drained = s.api.of('twilio', released.at).length;
    figure(
      `failover over capacity: ${parked} jobs parked while held (plivo ${cap}/s, fed 20/s); ${drained} placed on twilio after the release; ` +
        `plivo's busiest ${cap + 1} calls spanned ${plivoSpan} ms; ${total} jobs, each placed once`,
    );
  }, 150_000);
});
