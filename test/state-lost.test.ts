import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { createCallguard } from '../src/app/callguard.js';
import { createLogger } from '../src/ops/logger.js';
import { testConfig, testRules, waitFor } from './support/harness.js';
import { PrivateRedis } from './support/redis-server.js';

const RULES = { twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };

describe('lost state', () => {
  let redis: PrivateRedis | undefined;
  const instances: Callguard[] = [];
  afterEach(async () => {
    for (const cg of instances.splice(0)) await cg.stop({ graceMs: 1000 }).catch(() => undefined);
    await redis?.stop();
    redis = undefined;
  });

  it('when Redis comes back empty, then one of two instances audits it once, announces it once, counts it, and the evaluator runs again', async () => {
    redis = await PrivateRedis.start();
    const config = testConfig({ REDIS_URL: redis.url });
    for (let i = 0; i < 2; i++) {
      const cg = await createCallguard(config, testRules(RULES, config.queues), { logger: createLogger('silent') });
      instances.push(cg);
      await cg.startWorker();
    }
    const [a, b] = instances as [Callguard, Callguard];
    await a.control.pause({ by: 'ops', reason: 'maintenance' });
    expect(await a.ledger.list()).toHaveLength(1);

    await redis.restart();
    // An empty list is truthy: wait for an entry, not for the list.
    const lost = await waitFor(
      async () => {
        const entries = (await a.ledger.audit(50)).filter((e) => e.event === 'state-lost');
        return entries.length ? entries : undefined;
      },
      { what: 'a state-lost audit entry' },
    );
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toContain('holds from before are gone');
    expect(await a.ledger.list()).toEqual([]);

    const notifications = new Queue('notifications', { connection: { url: redis.url }, prefix: config.prefix });
    try {
      const job = await waitFor(() => notifications.getJob(`state-lost-${lost[0]!.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`), {
        what: 'the state-lost notification',
      });
      expect(job.name).toBe('state-lost');
    } finally {
      await notifications.close();
    }
    // Both instances have evaluated the empty state after the reconnect, and still only one entry.
    const metric = async (cg: Callguard) =>
      (await cg.metrics.registry.getSingleMetric('callguard_state_lost_total')!.get()).values[0]?.value ?? 0;
    await waitFor(async () => (await metric(a)) + (await metric(b)) === 1, { what: 'one instance counted the loss' });
    expect((await a.ledger.audit(50)).filter((e) => e.event === 'state-lost')).toHaveLength(1);
    // The schedule is back, so the evaluator keeps running on the new Redis.
    const events = new Queue('events', { connection: { url: redis.url }, prefix: config.prefix });
    try {
      await waitFor(async () => (await events.getJobSchedulers()).length > 0, { what: 'the evaluator schedule re-created' });
    } finally {
      await events.close();
    }
  });
});
