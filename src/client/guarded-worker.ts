import { DelayedError, Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import { Keys } from '../store/keys.js';

export interface GuardOptions {
  /** callguard's prefix (CALLGUARD_PREFIX), where the holds live. */
  callguardPrefix?: string;
  /** How long a job put back waits before it is eligible again (it then waits while the queue is paused). */
  retryDelayMs?: number;
}

/**
 * A BullMQ Worker for a dispatch queue that checks callguard's holds before each job. A worker
 * may already have fetched a job when the pause lands; that job goes back (delayed, then
 * waiting behind the pause) instead of being burned against a failing provider.
 */
export function createGuardedWorker<D = unknown, R = unknown>(
  queueName: string,
  processor: Processor<D, R>,
  options: WorkerOptions & GuardOptions,
): Worker<D, R> {
  const { callguardPrefix = '{callguard}', retryDelayMs = 1000, ...workerOptions } = options;
  const keys = new Keys(callguardPrefix);

  const guarded: Processor<D, R> = async (job: Job<D, R>, token?: string) => {
    const client = await worker.backend.client;
    if (await client.hexists(keys.covered, queueName)) {
      await job.moveToDelayed(Date.now() + retryDelayMs, token);
      throw new DelayedError(`held by callguard; ${queueName} is paused`);
    }
    return processor(job, token);
  };

  const worker = new Worker<D, R>(queueName, guarded, workerOptions);
  return worker;
}
