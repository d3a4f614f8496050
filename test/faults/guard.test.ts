import { Queue, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuardedWorker } from '../../src/client/guarded-worker.js';
import { connectRedis, type CallguardRedis } from '../../src/store/redis.js';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';

const PREFIX = '{callguard}';

describe('fault: guarded dispatch workers while Redis is killed and restarted', () => {
  let redis: PrivateRedis | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await redis?.stop();
    redis = undefined;
  });

  async function setup(provider: (job: Job) => Promise<void>) {
    const admin: CallguardRedis = connectRedis({ redisUrl: redis!.url, clusterNodes: [] });
    admin.on('error', () => undefined);
    const queue = new Queue('calls', { connection: admin, prefix: 'bull' });
    queue.on('error', () => undefined);
    const worker = createGuardedWorker('calls', provider, {
      connection: { url: redis!.url, maxRetriesPerRequest: null, retryStrategy: () => 200 },
      prefix: 'bull',
      callguardPrefix: PREFIX,
      retryDelayMs: 100,
      concurrency: 4,
      // Jobs active when Redis died come back through BullMQ's stalled check; shorter than the 30 s defaults.
      lockDuration: 5000,
      stalledInterval: 2000,
    });
    worker.on('error', () => undefined);
    closers.push(
      () => Promise.resolve(admin.disconnect()),
      () => queue.close(),
      () => worker.close(true),
    );
    return { admin, queue, worker };
  }

  it('when Redis is killed and comes back mid-run, then every job is done once: none lost, none failed, no provider call twice', async () => {
    redis = await PrivateRedis.start({ persist: true });
    const calls = new Map<string, number>();
    const { queue } = await setup(async (job) => {
      calls.set(job.id!, (calls.get(job.id!) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 5));
    });
    const total = 300;
    await queue.addBulk(Array.from({ length: total }, (_, i) => ({ name: 'call', data: { i }, opts: { jobId: `c-${i}` } })));
    await waitFor(() => calls.size >= 50);
    await redis.kill();
    await redis.restart();
    const killedAt = Date.now();
    await waitFor(async () => (await queue.getCompletedCount()) === total, { timeoutMs: 90_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await queue.getJobCounts())}, provider calls ${calls.size}`);
    });
    const drainMs = Date.now() - killedAt;
    const twice = [...calls].filter(([, n]) => n > 1).map(([id]) => id);
    console.log(
      `[guard, Redis killed mid-run] jobs in ${total}, completed ${await queue.getCompletedCount()}, failed ${await queue.getFailedCount()}, provider calls ${[...calls.values()].reduce((a, b) => a + b, 0)}, called twice: ${twice.length}; all done ${drainMs} ms after the kill`,
    );
    expect(await queue.getFailedCount()).toBe(0);
    expect(calls.size).toBe(total);
    expect(twice).toEqual([]);
  });
});
