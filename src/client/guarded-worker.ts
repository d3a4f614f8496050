import { DelayedError, Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import { Keys } from '../store/keys.js';

export interface GuardOptions {
  /** callguard's prefix (CALLGUARD_PREFIX), where the holds live. */
  callguardPrefix?: string;
  /** How long a job put back waits before it is eligible again (it then waits while the queue is paused). */
  retryDelayMs?: number;
}

// The job is no longer ours (our lock expired and another worker took it, or it was removed).
const LOCK_LOST = /Missing (lock|key) for job/;

/**
 * A BullMQ Worker for a dispatch queue that checks callguard's holds before each job. A worker
 * may already have fetched a job when the pause lands; that job goes back (delayed, then
 * waiting behind the pause) instead of being burned against a failing provider. When the check
 * itself fails (Redis away, failing over, loading), the job goes back too: without an answer the
 * provider is not called, and the job is not failed for Redis' trouble.
 *
 * For Redis Cluster pass a cluster connection, e.g. `connection: connectRedis(loadClientConfig())`,
 * and a queue prefix with a hash tag.
 */
export function createGuardedWorker<D = unknown, R = unknown>(
  queueName: string,
  processor: Processor<D, R>,
  options: WorkerOptions & GuardOptions,
): Worker<D, R> {
  const { callguardPrefix = '{callguard}', retryDelayMs = 1000, ...workerOptions } = options;
  const keys = new Keys(callguardPrefix);

  const guarded: Processor<D, R> = async (job: Job<D, R>, token?: string) => {
    let held: boolean;
    try {
      const client = await worker.backend.client;
      held = (await client.hexists(keys.covered, queueName)) === 1;
    } catch (err) {
      return putBack(job, token, `could not check callguard's holds: ${(err as Error).message}`);
    }
    if (held) return putBack(job, token, `held by callguard; ${queueName} is paused`);
    return processor(job, token);
  };

  /**
   * Moves the job to delayed and ends this attempt without failing it. Keeps trying while Redis
   * is away; stops when the job is no longer ours or the worker closes (BullMQ's stalled-job
   * check then returns it to waiting). Either way the processor is not called in this attempt.
   */
  async function putBack(job: Job<D, R>, token: string | undefined, why: string): Promise<never> {
    for (let attempt = 0; ; attempt++) {
      try {
        await job.moveToDelayed(Date.now() + retryDelayMs, token);
        break;
      } catch (err) {
        if (LOCK_LOST.test((err as Error).message) || worker.closing) break;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
      }
    }
    throw new DelayedError(why);
  }

  const worker = new Worker<D, R>(queueName, guarded, workerOptions);
  return worker;
}
