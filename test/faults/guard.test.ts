import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';
import { Dispatch } from './dispatch.js';
import { figure } from '../support/figures.js';

// No callguard runs here: only the app's guarded worker, on a Redis that holds nothing of callguard's.
const ENV = { CALLGUARD_PREFIX: '{callguard}', CALLGUARD_QUEUE_PREFIX: 'bull' };

describe('fault: guarded dispatch workers while Redis is killed and restarted', () => {
  let redis: PrivateRedis | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await redis?.stop();
    redis = undefined;
  });

  it('when Redis is killed and comes back mid-run, then every job is done once: none lost, none failed, no provider call twice', async () => {
    redis = await PrivateRedis.start({ persist: true });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    const queue = new Queue('calls', { connection, prefix: ENV.CALLGUARD_QUEUE_PREFIX });
    queue.on('error', () => undefined);
    // Jobs active when Redis died come back through BullMQ's stalled check; shorter than the 30 s defaults.
    const d = new Dispatch(queue, redis.url, ENV, { lockDuration: 5000, stalledInterval: 2000 });
    closers.push(
      () => Promise.resolve(connection.disconnect()),
      () => queue.close(),
      () => d.close(),
    );
    await d.feed(300, 'c');
    await waitFor(() => d.calls.length >= 50);
    await redis.kill();
    await redis.restart();
    const killedAt = Date.now();
    const jobs = await d.drained();
    figure(
      `[guard, Redis killed mid-run] jobs in ${jobs.in}, completed ${jobs.completed}, failed ${jobs.failed}, provider calls ${jobs.providerCalls}, called twice ${jobs.calledTwice.length}, never called ${jobs.neverCalled.length}; all done ${Date.now() - killedAt} ms after the kill`,
    );
    expect(jobs.completed).toBe(jobs.in);
    expect(jobs.failed).toBe(0);
    expect(jobs.calledTwice).toEqual([]);
    expect(jobs.neverCalled).toEqual([]);
  });
});
