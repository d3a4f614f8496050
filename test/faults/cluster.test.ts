import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallguard, type Callguard } from '../../src/app/callguard.js';
import { loadConfig } from '../../src/app/config.js';
import { parseRules } from '../../src/domain/rules.js';
import { JOB } from '../../src/jobs/contract.js';
import { createLogger } from '../../src/ops/logger.js';
import { connectRedis, type CallguardRedis } from '../../src/store/redis.js';
import { PrivateCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/harness.js';
import { checkLoggingApp, LoggingApp } from './logging-app.js';
import { eventsIdle } from './support.js';
import { figure } from '../support/figures.js';

const RULE = 'provider_down';
const THRESHOLD = 5;
// What the logging app alongside logs: counted for a rule of its own, out of reach, so it never trips.
const APP_RULE = 'upstream_timeout';
const RULES = JSON.stringify({
  [RULE]: { threshold_count: THRESHOLD, window_minutes: 600, log_patterns: ['provider down'] },
  [APP_RULE]: { threshold_count: 100_000_000, window_minutes: 600, log_patterns: ['upstream timeout'] },
});
const ENV = {
  CALLGUARD_PREFIX: '{callguard}',
  CALLGUARD_QUEUE_PREFIX: '{bull}',
  CALLGUARD_QUEUES: 'calls',
};

describe('Redis Cluster: three masters, three replicas, one killed', () => {
  let cluster: PrivateCluster;
  let cg: Callguard;
  let watcher: CallguardRedis;
  let calls: Queue;
  let dir: string;

  beforeAll(async () => {
    cluster = await PrivateCluster.start();
    dir = mkdtempSync(join(tmpdir(), 'cg-cluster-rules-'));
    writeFileSync(join(dir, 'rules.json'), RULES);
    const config = loadConfig({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      // REDIS_URL points nowhere: in cluster mode it must be ignored.
      REDIS_URL: 'redis://127.0.0.1:1',
      ...ENV,
      CALLGUARD_MINUTE_SECONDS: '1',
      CALLGUARD_AUTO_RESUME_MINUTES: '600',
      LOG_LEVEL: 'silent',
    });
    const rules = parseRules(RULES, 'rules.json', config.queues).rules;
    cg = await createCallguard(config, rules, { logger: createLogger('silent') });
    await cg.startWorker();
    watcher = connectRedis(config);
    watcher.on('error', () => undefined);
    calls = new Queue('calls', { connection: watcher, prefix: '{bull}' });
    calls.on('error', () => undefined);
  });

  afterAll(async () => {
    await cg?.stop({ graceMs: 2000 }).catch(() => undefined);
    await calls?.close().catch(() => undefined);
    watcher?.disconnect();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const report = (count: number) => cg.events.add(JOB.errorReport, { counts: { [RULE]: count } });
  const counted = async (rule = RULE) => (await cg.counters.sums()).counts[rule] ?? 0;
  const held = async () => (await cg.ledger.list()).map((h) => h.id);

  const storedAtTrip: number[] = [];
  async function countTripResume(label: string) {
    for (let i = 0; i < THRESHOLD - 1; i++) await report(1);
    await waitFor(async () => (await counted()) === THRESHOLD - 1, { timeoutMs: 20_000 });
    expect(await calls.isPaused()).toBe(false);
    await report(1);
    await waitFor(() => calls.isPaused(), { timeoutMs: 20_000 });
    expect(await held()).toEqual([`rule:${RULE}`]);
    storedAtTrip.push(await counted());
    expect(storedAtTrip.at(-1)).toBe(THRESHOLD);
    await cg.control.resume({ by: 'fault-test' });
    await waitFor(async () => !(await calls.isPaused()), { timeoutMs: 20_000 });
    const manual = await cg.control.pause({ by: 'fault-test', reason: label });
    expect(await calls.isPaused()).toBe(true);
    expect(manual.hold.kind).toBe('manual');
    await cg.control.resume({ by: 'fault-test' });
    expect(await calls.isPaused()).toBe(false);
    expect(await held()).toEqual([]);
    expect(await counted()).toBe(0); // a manual resume restarts the rule's window
  }

  it('counts, trips (BullMQ really pauses), pauses and resumes; then does so again after the {callguard} master is killed', async () => {
    const env = { ...ENV, REDIS_CLUSTER_NODES: cluster.nodesEnv, CALLGUARD_RULES: join(dir, 'rules.json') };
    const app = LoggingApp.start(env, { perTick: 5, message: 'upstream timeout: the call failed' });
    // The same app idle, alongside: how much the machine alone (2 loaded cores) stalls an event loop.
    const control = LoggingApp.start(env, { perTick: 0 });
    try {
      await Promise.all([app.warmedUp, control.warmedUp]);
      await failover();
      const idle = await control.stop();
      const logging = await app.stop();
      await eventsIdle(cg.events, 20_000);
      checkLoggingApp('[cluster] logging app (through the failover)', logging, idle, await counted(APP_RULE));
    } finally {
      app.kill();
      control.kill();
    }
  });

  async function failover() {
    await countTripResume('before failover');

    const oldMaster = await cluster.masterOf('{callguard}');
    const killedAt = Date.now();
    cluster.kill(oldMaster);

    // Keep reporting (as an app would) until the rule trips again on the promoted replica.
    let sent = 0;
    let firstTripMs = 0;
    let last = '';
    const settle = <T>(p: Promise<T>) => p.then(String, (e: Error) => e.message);
    await waitFor(
      async () => {
        void report(1).then(
          () => sent++,
          () => undefined,
        );
        const [count, holds, paused] = await Promise.all([settle(counted()), settle(held()), settle(calls.isPaused())]);
        last = `${Date.now() - killedAt} ms: landed ${sent}, counted ${count}, holds [${holds}], paused ${paused}`;
        if (paused !== 'true' || holds !== `rule:${RULE}`) return false;
        firstTripMs = Date.now() - killedAt;
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen at ${last}`);
    });
    const newMaster = await cluster.masterOf('{callguard}');
    expect(newMaster).not.toBe(oldMaster);
    figure(
      `[cluster] killed master :${oldMaster} of {callguard}; replica :${newMaster} took over; first successful trip ${firstTripMs} ms after the kill (${sent} reports landed meanwhile)`,
    );

    await cg.control.resume({ by: 'fault-test' });
    await waitFor(async () => !(await calls.isPaused()), { timeoutMs: 20_000 });
    // Reports still in flight from the loop above land now; let them settle, then start clean.
    await eventsIdle(cg.events, 20_000);
    await cg.control.resume({ by: 'fault-test' });
    await cluster.waitHealthy();
    await countTripResume('after failover');

    // One message per hold transition, across the failover (the audit stream is the outbox).
    const audit = await cg.redis.xrange(cg.keys.audit, '-', '+');
    const field = (flat: string[], name: string) => flat[flat.indexOf(name) + 1] ?? '';
    const transitions = audit.filter(
      ([, f]) => field(f, 'event') !== 'drift-repaired' && /\bcalls\b/.test(field(f, 'paused') + ',' + field(f, 'resumed')),
    );
    const repairs = audit.filter(([, f]) => field(f, 'event') === 'drift-repaired').length;
    const ids = transitions.map(([id]) => `change-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}`).sort();
    // Delivered, not only enqueued: the notifications worker came through the failover as well.
    const delivered = async () => (await cg.notifier.queue.getJobs(['completed'])).filter((j) => j.id!.startsWith('change-'));
    const messages = await waitFor(async () => ((await delivered()).length >= ids.length ? delivered() : undefined), {
      timeoutMs: 30_000,
      what: 'one delivered notification per transition',
    }).then((jobs) => jobs.map((j) => j.id!).sort());
    figure(
      `[cluster] trips before and after the failover: counts at the crossing expected ${THRESHOLD}, stored ${storedAtTrip.join('/')}; all trips: hold transitions ${transitions.length}, drift repairs ${repairs}, messages delivered ${messages.length} (${(messages.length / transitions.length).toFixed(2)} per transition)`,
    );
    expect(messages).toEqual(ids);
  }
});
