/**
 * Issue 13's provider-level breaking on a real Redis Cluster (three masters, three replicas):
 * guarded workers on cluster connections report outcomes, a failure-rate rule holds one
 * provider's jobs (parked) while the other provider's run, the release promotes them under a
 * probe. Every key of callguard's and of the queue lives under a hash tag.
 */
import { Queue, QueueEvents, type Job, type Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallguard, type Callguard } from '../../src/app/callguard.js';
import { loadConfig } from '../../src/app/config.js';
import { createGuardedWorker } from '../../src/client/guarded-worker.js';
import { createReporter } from '../../src/client/shared.js';
import { parseRules } from '../../src/domain/rules.js';
import { createLogger } from '../../src/ops/logger.js';
import { connectRedis, type CallguardRedis } from '../../src/store/redis.js';
import { waitFor } from '../support/harness.js';
import { PrivateCluster } from '../support/redis-cluster.js';
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
  let cluster: PrivateCluster;
  let cg: Callguard;
  let watcher: CallguardRedis;
  let calls: Queue;
  let events: QueueEvents;
  let reporter: ReturnType<typeof createReporter>;
  const workers: Worker[] = [];
  const connections: CallguardRedis[] = [];
  const api = new ProviderApi();

  beforeAll(async () => {
    cluster = await PrivateCluster.start();
    const config = loadConfig({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_URL: 'redis://127.0.0.1:1',
      CALLGUARD_PREFIX: '{callguard}',
      CALLGUARD_QUEUE_PREFIX: QUEUE_PREFIX,
      CALLGUARD_QUEUES: 'calls',
      CALLGUARD_MINUTE_SECONDS: '1',
      CALLGUARD_AUTO_RESUME_MINUTES: '1',
      LOG_LEVEL: 'silent',
    });
    const rules = parseRules(JSON.stringify(RULES), 'rules.json', config.queues).rules;
    cg = await createCallguard(config, rules, { logger: createLogger('silent') });
    await cg.startWorker();

    watcher = connectRedis(config);
    watcher.on('error', () => undefined);
    calls = new Queue('calls', { connection: watcher, prefix: QUEUE_PREFIX });
    calls.on('error', () => undefined);
    const eventsConnection = connectRedis(config);
    eventsConnection.on('error', () => undefined);
    connections.push(eventsConnection);
    events = new QueueEvents('calls', { connection: eventsConnection, prefix: QUEUE_PREFIX });
    events.on('error', () => undefined);
    await events.waitUntilReady();

    reporter = createReporter({ clusterNodes: cluster.nodes, prefix: '{callguard}', flushMs: 50 });
    for (let i = 0; i < WORKERS; i++) {
      const connection = connectRedis({ redisUrl: '', clusterNodes: cluster.nodes });
      connection.on('error', () => undefined);
      connections.push(connection);
      const worker = createGuardedWorker<{ provider: string }>(
        'calls',
        (job: Job<{ provider: string }>) => api.call(job.data.provider, job.id!),
        {
          connection,
          prefix: QUEUE_PREFIX,
          callguardPrefix: '{callguard}',
          concurrency: CONCURRENCY,
          provider: (job) => job.data.provider,
          outcomes: reporter,
          rules,
        },
      );
      worker.on('error', () => undefined);
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
    await reporter?.close(2000).catch(() => undefined);
    await events?.close().catch(() => undefined);
    await calls?.close().catch(() => undefined);
    await cg?.stop({ graceMs: 2000 }).catch(() => undefined);
    watcher?.disconnect();
    for (const c of connections) c.disconnect();
    await cluster?.stop();
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
