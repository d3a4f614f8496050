import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { createLogger } from '../src/ops/logger.js';
import { cleanup, testConfig, testRules, waitFor } from './support/harness.js';

const RULES = { twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };

describe('notifications from the audit stream (the outbox)', () => {
  const config = testConfig();
  const instances: Callguard[] = [];
  const start = async () => {
    const cg = await createCallguard(config, testRules(RULES, config.queues), { logger: createLogger('silent') });
    instances.push(cg);
    return cg;
  };
  afterEach(async () => {
    for (const cg of instances.splice(0)) await cg.stop({ graceMs: 1000 }).catch(() => undefined);
    await cleanup(config);
  });

  it('when a hold change is committed and the process dies before announcing it, then the next instance announces it once', async () => {
    const crashed = await start();
    // The commit alone, as if the process died right after the script returned.
    const { changes } = await crashed.ledger.change({
      add: [{ id: 'manual:before-crash', kind: 'manual', scope: 'all', by: 'ops', reason: 'maintenance' }],
    });
    expect(changes).toHaveLength(1);
    const auditId = changes[0]!.auditId;
    await crashed.stop({ graceMs: 1000 });
    instances.splice(0);

    const next = await start();
    const notifications = new Queue('notifications', { connection: next.redis, prefix: config.prefix });
    try {
      await next.startWorker();
      const job = await waitFor(() => notifications.getJob(`change-${auditId.replace(/[^A-Za-z0-9_.-]/g, '_')}`), {
        what: 'the pause announced after the restart',
      });
      expect(job.data.change).toMatchObject({ event: 'hold-added', hold: { id: 'manual:before-crash' } });
      // More relays (another tick, another change) add nothing for the same entry.
      await next.evaluator.evaluate({ full: true });
      await next.control.resume({ by: 'ops' });
      const changeJobs = async () =>
        (await notifications.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).filter((j) => j.name === 'hold-change');
      await waitFor(async () => (await changeJobs()).length === 2, { what: 'the pause and the resume announced' });
      expect((await changeJobs()).map((j) => j.data.change.event).sort()).toEqual(['hold-added', 'hold-released']);
    } finally {
      await notifications.close();
    }
  });

  it('when callguard starts for the first time on a stream with history, then old entries are not announced again', async () => {
    const first = await start();
    await first.control.pause({ by: 'ops', reason: 'old news' });
    const cursor = await first.redis.get(first.keys.notifyCursor);
    expect(cursor).toBe(await first.ledger.lastAuditId());
  });
});
