/**
 * Issue 13's provider-level breaking on a real Redis Cluster (three masters, three replicas):
 * guarded workers on cluster connections report outcomes, a failure-rate rule holds one
 * provider's jobs (parked) while the other provider's run, the release promotes them under a
 * probe. Every key of callguard's and of the queue lives under a hash tag.
 */
import { QueueEvents, type Job, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Callguard } from '../../src/app/callguard.js';
import { waitFor } from '../support/harness.js';
import { ClusterRig } from './cluster-rig.js';
import { figure } from '../support/figures.js';

const RULE = 'twilio_failing';
const MAX_PER_MINUTE = 3;
const RULES = {
  [RULE]: {
    log_patterns: [],
    providers: ['twilio'],
    failure_rate: 0.5,
    min_calls: 5,
    window_minutes: 3,
    probe: { minutes: 2, max_per_minute: MAX_PER_MINUTE },
  },
};
const QUEUE_PREFIX = '{bullprov}';
const WORKERS = 2;
const CONCURRENCY = 2;
/** Calls that may already be past their hold check when the hold lands: every worker slot. */
const SLOTS = WORKERS * CONCURRENCY;
/** How long after the hold a call already past its check may still start (a loaded machine). */
const IN_FLIGHT_MS = 1000;

interface Call {
  provider: string;
  job: string;
  start: number;
  ok: boolean;
}

/** The providers' API, in memory: records every call; a failing provider throws. */
class ProviderApi {
  readonly calls: Call[] = [];
  readonly failing = new Set<string>();

  async call(provider: string, job: string): Promise<void> {
    const ok = !this.failing.has(provider);
    this.calls.push({ provider, job, start: Date.now(), ok });
    await new Promise((r) => setImmediate(r));
    if (!ok) throw new Error(`${provider} answered 503`);
  }

  of(provider: string, after = 0, before = Infinity): Call[] {
    return this.calls.filter((c) => c.provider === provider && c.start > after && c.start < before);
  }
}

describe('Redis Cluster: provider holds, parking and the probe', () => {
  let rig: ClusterRig;
  let cg: Callguard;
  let calls: Queue;
  let events: QueueEvents;
  const api = new ProviderApi();

  beforeAll(async () => {
    rig = await ClusterRig.start(RULES, { queuePrefix: QUEUE_PREFIX, autoResumeMinutes: 1 });
    ({ cg, calls } = rig);
    events = new QueueEvents('calls', { connection: rig.connection(), prefix: QUEUE_PREFIX });
    events.on('error', () => undefined);
    await events.waitUntilReady();
    await rig.startWorkers<{ provider: string }>(WORKERS, (job: Job<{ provider: string }>) => api.call(job.data.provider, job.id!), {
      concurrency: CONCURRENCY,
      provider: (job) => job.data.provider,
    });
  });

  afterAll(async () => {
    await events?.close().catch(() => undefined);
    await rig?.stop();
  });

  const holdOf = async (id: string) => (await cg.ledger.list()).find((h) => h.id === id);
  const auditEvent = async (event: string, after = 0) =>
    (await cg.ledger.audit(500)).find((e) => e.event === event && e.hold === `rule:${RULE}` && e.at > after);

  it('trips on twilio outcomes, parks only twilio jobs, runs plivo, then promotes the parked jobs under the probe: each job completes once', async () => {
    let queuePaused = 0;
    events.on('paused', () => queuePaused++);

    // 10 jobs a second for each provider, retried after a failed call until they succeed.
    const fed: string[] = [];
    let n = 0;
    const feed = async () => {
      n++;
      const jobs = ['twilio', 'plivo'].map((provider) => ({
        name: 'call',
        data: { provider },
        opts: { jobId: `${provider}-${n}`, attempts: 50, backoff: { type: 'fixed', delay: 200 } },
      }));
      await calls.addBulk(jobs);
      fed.push(...jobs.map((j) => j.opts.jobId));
    };
    api.failing.add('twilio');
    const feeding = setInterval(() => void feed(), 100);
    const { heldAt, tripCalls, parked } = await (async () => {
      const hold = await waitFor(() => holdOf(`rule:${RULE}`), { timeoutMs: 30_000, what: 'the twilio rule to trip' });
      expect(hold.providers).toEqual(['twilio']);
      const tripCalls = api.of('twilio', 0, hold.since + 1).length;
      // Twilio answers again; the hold stays until the failures leave the window and the rule has been clear a while.
      api.failing.delete('twilio');

      // Twilio jobs arriving now are parked (noted, then moved to delayed: wait for both), while plivo's run.
      const parkedKey = cg.keys.parked('calls:twilio');
      await waitFor(
        async () => {
          const ids = await cg.redis.zrange(parkedKey, '0', '4');
          const states = await Promise.all(ids.map((id) => calls.getJobState(id)));
          return ids.length === 5 && states.every((s) => s === 'delayed');
        },
        { timeoutMs: 30_000, what: 'five parked twilio jobs, delayed' },
      );
      await waitFor(() => api.of('plivo', hold.since + IN_FLIGHT_MS).length >= 10, {
        timeoutMs: 30_000,
        what: 'ten plivo calls after the hold',
      });
      return { heldAt: hold.since, tripCalls, parked: await cg.redis.zcard(parkedKey) };
    })().finally(() => clearInterval(feeding));

    // The release (the pause hold gives way to the probe) promotes the parked jobs.
    const released = await waitFor(() => auditEvent('hold-released'), { timeoutMs: 60_000, what: 'the hold released' });
    expect(released.resumed).toEqual(['calls:twilio']);
    const probeStarted = await waitFor(() => auditEvent('probe-started'), { timeoutMs: 20_000, what: 'the probe' });
    const probeEnded = await waitFor(() => auditEvent('probe-ended'), { timeoutMs: 30_000, what: 'the probe to end' });

    // No twilio call started from the in-flight allowance after the hold until the release.
    const inFlight = api.of('twilio', heldAt, released.at);
    expect(api.of('twilio', heldAt + IN_FLIGHT_MS, released.at)).toEqual([]);
    expect(inFlight.length).toBeLessThanOrEqual(SLOTS);

    // During the probe at most max_per_minute calls in any minute: any max+1 calls in a row span a minute
    // (give or take the step from the guard's check on Redis' clock to the call).
    const minute = cg.config.minuteMs;
    const during = api.of('twilio', probeStarted.at, probeEnded.at);
    expect(during.length).toBeGreaterThan(0);
    const spans = during.slice(MAX_PER_MINUTE).map((c, i) => c.start - during[i]!.start);
    if (spans.length) expect(Math.min(...spans)).toBeGreaterThanOrEqual(minute - 100);
    const perMinute: number[] = [];
    for (let t = probeStarted.at; t < probeEnded.at; t += minute) {
      perMinute.push(api.of('twilio', t - 1, Math.min(t + minute, probeEnded.at)).length);
    }

    // Jobs in = jobs out: every job completed, each with exactly one successful call; the queue never paused.
    await waitFor(async () => (await calls.getCompletedCount()) === fed.length, {
      timeoutMs: 60_000,
      what: `all ${fed.length} jobs completed`,
    });
    expect(await calls.getFailedCount()).toBe(0);
    const ok = new Map<string, number>();
    for (const c of api.calls.filter((c) => c.ok)) ok.set(c.job, (ok.get(c.job) ?? 0) + 1);
    expect([...ok.keys()].sort()).toEqual([...fed].sort());
    expect([...ok.values()].every((k) => k === 1)).toBe(true);
    expect(queuePaused).toBe(0);
    expect(await calls.isPaused()).toBe(false);
    expect((await cg.ledger.audit(500)).flatMap((e) => e.paused)).not.toContain('calls');
    expect(await cg.redis.zcard(cg.keys.parked('calls:twilio'))).toBe(0);

    const afterRelease = api.of('twilio', released.at);
    figure(
      `[cluster providers] ${JSON.stringify({
        jobs: fed.length,
        tripAfterTwilioCalls: tripCalls,
        inFlightAtHold: inFlight.length,
        parkedWhenFeedingStopped: parked,
        plivoCallsWhileHeld: api.of('plivo', heldAt, released.at).length,
        heldMs: released.at - heldAt,
        firstTwilioCallAfterReleaseMs: afterRelease.length ? afterRelease[0]!.start - released.at : null,
        probeCallsPerMinute: perMinute,
        shortestSpanOfMaxPlusOneMs: spans.length ? Math.min(...spans) : null,
      })}`,
    );
  });
});
