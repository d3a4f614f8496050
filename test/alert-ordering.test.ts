import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';

const RULES = { twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };
const alert = (status: 'firing' | 'resolved') => ({
  source: 'generic',
  id: 'carrier-down',
  status,
  name: 'CarrierDown',
  reason: 'carrier down',
  labels: {},
});

const who = { name: 'alertmanager', role: 'alerts' as const };

describe('alert notices ordered by Redis time', () => {
  let cg: Callguard | undefined;
  afterEach(async () => {
    await stopTestCallguard(cg);
    cg = undefined;
  });

  it('when the resolved notice runs before an older firing notice from an instance whose clock is ahead, then the hold does not stay', async () => {
    cg = await startTestCallguard(RULES);
    const events = new Queue('events', { connection: cg.redis, prefix: cg.config.prefix });
    const done = new QueueEvents('events', { connection: { url: cg.config.redisUrl }, prefix: cg.config.prefix });
    try {
      await done.waitUntilReady();
      const t0 = await cg.ledger.now();
      // Resolved was enqueued after firing by Redis' clock, but its instance's clock is behind and the firing one's ahead.
      // Signed as POST /health/alert signs them: only a signed job's enqueue time is read (issue 19).
      const add = (status: 'firing' | 'resolved', enqueuedAt: number, timestamp: number) => {
        const jobId = `${status}-${enqueuedAt}`;
        const data = cg!.signer.sign({ alerts: [alert(status)], enqueued_at: enqueuedAt }, who, { jobId, expiresAt: t0 + 60_000 });
        return events.add('alert', data, { timestamp, jobId });
      };
      const resolved = await add('resolved', t0 + 10, t0 - 60_000);
      await resolved.waitUntilFinished(done, 10_000);
      const firing = await add('firing', t0, t0 + 60_000);
      const outcome = (await firing.waitUntilFinished(done, 10_000)) as { outcomes: Array<{ result: string }> };
      expect(JSON.stringify(outcome)).toContain('added-then-released');
      expect(await cg.ledger.list()).toEqual([]);
    } finally {
      await done.close();
      await events.close();
    }
  });
});
