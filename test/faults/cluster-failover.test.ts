/**
 * Issue 21's failover on a real Redis Cluster (three masters, three replicas): guarded workers on
 * cluster connections, each job's candidates ['twilio', 'plivo'], fed 20 jobs a second; twilio
 * fails every call, its rate rule holds it and the jobs go to plivo within plivo's capacity
 * (30 a second, the second shape of the rules file); after twilio recovers the probe sends its
 * calls to twilio first and traffic returns to it. Every key lives under a hash tag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Callguard } from '../../src/app/callguard.js';
import type { GuardedJob } from '../../src/client/guarded-worker.js';
import { waitFor } from '../support/harness.js';
import { feedCalls, Grants, shortestSpan } from '../support/provider-api.js';
import { ClusterRig } from './cluster-rig.js';
import { figure } from '../support/figures.js';

const CAP = 30;
const PROBE_MAX = 5;
const RULES = {
  rules: {
    twilio: {
      log_patterns: [],
      providers: ['twilio'],
      failure_rate: 0.5,
      min_calls: 10,
      window_minutes: 6,
      probe: { minutes: 2, max_per_minute: PROBE_MAX },
    },
    plivo: { log_patterns: [], providers: ['plivo'], failure_rate: 0.5, min_calls: 10, window_minutes: 6 },
  },
  providers: { plivo: { max_per_second: CAP } },
};
const WORKERS = 2;
const CONCURRENCY = 4;
/** Calls that may already be past their check when the hold lands: every worker slot. */
const SLOTS = WORKERS * CONCURRENCY;

interface Call {
  provider: string;
  job: string;
  start: number;
  ok: boolean;
}

describe('Redis Cluster: failover to the next candidate within its capacity', () => {
  let rig: ClusterRig;
  let cg: Callguard;
  const made: Call[] = [];
  const failing = new Set<string>();
  const of = (provider: string, after = 0, before = Infinity) =>
    made.filter((c) => c.provider === provider && c.start > after && c.start <= before);

  beforeAll(async () => {
    rig = await ClusterRig.start(RULES, { queuePrefix: '{bullfail}', autoResumeMinutes: 2 });
    cg = rig.cg;
    await rig.startWorkers(
      WORKERS,
      async (job: GuardedJob) => {
        const call = { provider: job.provider!, job: job.id!, start: Date.now(), ok: !failing.has(job.provider!) };
        made.push(call);
        await new Promise((r) => setTimeout(r, 5));
        if (!call.ok) throw new Error(`${call.provider} answered 503`);
      },
      { concurrency: CONCURRENCY, providers: () => ['twilio', 'plivo'] },
    );
  });

  afterAll(async () => rig?.stop());

  const holdOf = async (id: string) => (await cg.ledger.list()).find((h) => h.id === id);
  const auditEvent = async (event: string) => (await cg.ledger.audit(500)).find((e) => e.event === event && e.hold === 'rule:twilio');

  it('holds twilio, places its jobs on plivo within capacity, probes twilio first, returns to it: each job once', async () => {
    // 20 jobs a second, retried (after a failed call) until they succeed.
    const calls = rig.calls;
    const { fed, fedBetween, stop: stopFeeding } = feedCalls(calls);
    const plivoGrants = new Grants(cg.redis, cg.keys.capacityLog('plivo'), 1000);
    const probeGrants = new Grants(cg.redis, cg.keys.rateLog('calls:twilio'), cg.config.minuteMs);
    try {
      failing.add('twilio');
      const hold = await waitFor(() => holdOf('rule:twilio'), { timeoutMs: 30_000, what: 'the twilio rule to trip' });
      expect(hold.providers).toEqual(['twilio']);
      const fence = hold.since + 1000;
      const outageEnd = fence + 3000;
      await waitFor(() => Date.now() > outageEnd && of('plivo', outageEnd).length > 0, {
        timeoutMs: 30_000,
        what: 'three seconds of outage',
      });
      expect(of('twilio', hold.since, fence).length).toBeLessThanOrEqual(SLOTS);
      expect(of('twilio', fence)).toEqual([]);
      const completedOnPlivo = of('plivo', fence, outageEnd).filter((c) => c.ok).length;
      const fedDuring = fedBetween(fence, outageEnd);
      expect(completedOnPlivo / fedDuring).toBeGreaterThanOrEqual(0.95);
      const failedOver = Number(await cg.redis.hget(cg.keys.failovers, 'calls|twilio|plivo'));
      expect(failedOver).toBeGreaterThanOrEqual(completedOnPlivo);

      // Recovery: the hold gives way to a probe whose slots go to twilio; then traffic returns to it.
      failing.delete('twilio');
      const probe = await waitFor(() => auditEvent('probe-started'), { timeoutMs: 40_000, what: 'the probe' });
      const ended = await waitFor(() => auditEvent('probe-ended'), { timeoutMs: 30_000, what: 'the probe to end' });
      // The release counted every job failed over while twilio was held, in its audit entry (Slack's source).
      const released = await auditEvent('hold-released');
      expect(released?.failedOver).toBeGreaterThanOrEqual(completedOnPlivo);
      const probeCalls = of('twilio', probe.at, ended.at);
      expect(probeCalls.length).toBeGreaterThan(0);
      // At most PROBE_MAX let through in any minute (the guards' own times on Redis' clock).
      const probeSpan = shortestSpan(await probeGrants.stop(), PROBE_MAX);
      expect(probeSpan).toBeGreaterThanOrEqual(cg.config.minuteMs);
      expect(of('plivo', probe.at, ended.at).length).toBeGreaterThan(0);
      const back = ended.at + 1000;
      await waitFor(() => fedBetween(back, Infinity) >= 20, { timeoutMs: 20_000, what: 'a second of jobs after the probe' });
      await stopFeeding();

      // Jobs in = jobs out, each placed once; after the probe every new job went to twilio.
      await waitFor(async () => (await calls.getCompletedCount()) === fed.size, {
        timeoutMs: 60_000,
        what: `all ${fed.size} jobs completed`,
      });
      expect(await calls.getFailedCount()).toBe(0);
      const ok = new Map<string, number>();
      for (const c of made.filter((c) => c.ok)) ok.set(c.job, (ok.get(c.job) ?? 0) + 1);
      expect([...ok.keys()].sort()).toEqual([...fed.keys()].sort());
      expect([...ok.values()].every((k) => k === 1)).toBe(true);
      const newJobs = new Set([...fed].filter(([, t]) => t > back).map(([id]) => id));
      const placedAfter = made.filter((c) => c.ok && newJobs.has(c.job));
      expect(placedAfter.length).toBe(newJobs.size);
      expect(placedAfter.every((c) => c.provider === 'twilio')).toBe(true);

      // Plivo's capacity held across the cluster: no second (sliding, Redis' clock) saw more than CAP grants.
      const granted = await plivoGrants.stop();
      expect(granted.length).toBeGreaterThanOrEqual(of('plivo').length);
      const plivoSpan = shortestSpan(granted, CAP);
      expect(plivoSpan).toBeGreaterThanOrEqual(1000);
      figure(
        `[cluster failover] ${JSON.stringify({
          jobs: fed.size,
          completedOnPlivo,
          fedDuringOutage: fedDuring,
          ratio: Math.round((completedOnPlivo / fedDuring) * 1000) / 1000,
          failedOver,
          failedOverAtRelease: released?.failedOver,
          plivoBusiestSpanMs: plivoSpan,
          probeTwilioCalls: probeCalls.length,
          probeMs: ended.at - probe.at,
          probeBusiestSpanMs: probeSpan,
          jobsAfterProbe: newJobs.size,
        })}`,
      );
    } finally {
      await stopFeeding();
      await plivoGrants.stop();
      await probeGrants.stop();
    }
  });
});
