import { Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { EVENTS_QUEUE } from '../store/keys.js';
import { dispatch, type JobRegistry } from './registry.js';
import { throttledErrorLog } from '../domain/log-throttle.js';

/** The health worker: runs the events queue's jobs through their declarations. */
export function startHealthWorker(opts: {
  connection: ConnectionOptions;
  prefix: string;
  jobs: JobRegistry;
  logger: Logger;
  /** BullMQ lock duration and stalled-check interval (CALLGUARD_JOB_LOCK_SECONDS). */
  lockMs: number;
  concurrency?: number;
}): Worker {
  const worker = new Worker(EVENTS_QUEUE, (job) => dispatch(opts.jobs, job), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency ?? 4,
    // A crashed instance's report runs again within about 2 × lockMs (lock expiry, then a stalled
    // check), not BullMQ's 30 s + 30 s; every events job may run twice (counting is by job id).
    lockDuration: opts.lockMs,
    stalledInterval: opts.lockMs,
  });
  worker.on('failed', (job, err) => opts.logger.warn({ job: job?.name, id: job?.id, err }, 'events job failed'));
  worker.on('error', throttledErrorLog(opts.logger, 'health worker error'));
  return worker;
}
