import { Queue, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { connectRedis, type CallguardRedis } from '../src/store/redis.js';
import { Keys } from '../src/store/keys.js';
import { waitFor } from './support/harness.js';
import { PrivateRedis } from './support/redis-server.js';

const PREFIX = '{callguard}';
const covered = new Keys(PREFIX).covered;

describe('the guarded worker when its hold check fails', () => {
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
    });
    worker.on('error', () => undefined);
    closers.push(
      () => Promise.resolve(admin.disconnect()),
      () => queue.close(),
      () => worker.close(true),
    );
    return { admin, queue, worker };
  }

  it('when Redis answers the check with an error, then the job goes back: the provider is not called and the job does not fail', async () => {
    redis = await PrivateRedis.start();
    const calls: string[] = [];
    const { admin, queue, worker } = await setup(async (job) => void calls.push(job.id!));
    // A real Redis error on the check: the key callguard's holds live in has the wrong type.
    await admin.set(covered, 'not a hash');
    const attempted = new Promise<void>((r) => worker.once('active', () => r()));
    const job = await queue.add('call', { to: '+100' }, { jobId: 'call-1' });
    await attempted;
    await waitFor(async () => (await job.getState()) === 'delayed');
    expect(calls).toEqual([]);
    expect(await queue.getFailedCount()).toBe(0);

    await admin.del(covered);
    await waitFor(async () => (await job.getState()) === 'completed');
    expect(calls).toEqual(['call-1']);
    expect(await queue.getFailedCount()).toBe(0);
  });

  it('when another worker holds the job by the time it would go back, then this worker lets it go and takes the next', async () => {
    redis = await PrivateRedis.start();
    const admin: CallguardRedis = connectRedis({ redisUrl: redis.url, clusterNodes: [] });
    const queue = new Queue('calls', { connection: admin, prefix: 'bull' });
    closers.push(
      () => Promise.resolve(admin.disconnect()),
      () => queue.close(),
    );
    // callguard holds the queue, so each job goes back to delayed after its check.
    await admin.hset(covered, 'calls', '1');
    const asked: string[] = [];
    const worker = createGuardedWorker('calls', async () => undefined, {
      connection: { url: redis.url, maxRetriesPerRequest: null },
      prefix: 'bull',
      callguardPrefix: PREFIX,
      concurrency: 1,
      rules: [],
      provider: (job) => {
        asked.push(job.id!);
        // Sent before the check, so it lands before the move back: the job's lock is someone else's.
        if (job.id === 'taken') void admin.set(`bull:calls:${job.id}:lock`, 'another-worker');
        return 'twilio';
      },
    });
    worker.on('error', () => undefined);
    closers.push(() => worker.close(true));
    await queue.add('call', {}, { jobId: 'taken' });
    await queue.add('call', {}, { jobId: 'next' });
    // Its one slot is free again: a worker that kept retrying the move would never ask about the next job.
    await waitFor(() => asked.includes('next'), { what: 'the worker moved on to the next job' });
    expect(await queue.getJobState('taken')).toBe('active');
    expect(await admin.get('bull:calls:taken:lock')).toBe('another-worker');
  });
});
