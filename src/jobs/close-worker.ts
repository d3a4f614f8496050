import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { withTimeout } from '../domain/timeout.js';

/**
 * Lets a worker's active jobs finish; past the grace period it is closed without waiting and its
 * jobs are left for BullMQ's stalled-job check to hand to another instance. The bound also
 * matters after a Redis restart, where a worker's close was seen to wait indefinitely.
 */
export async function closeWorker(worker: Worker, graceMs: number, logger: Logger): Promise<void> {
  const outcome = await withTimeout(
    worker.close().then(() => 'closed' as const),
    graceMs,
    () => 'late' as const,
  );
  if (outcome === 'late') {
    logger.warn({ worker: worker.name, graceMs }, 'jobs still running after the grace period; closing without waiting');
    await withTimeout(worker.close(true), 1000, () => undefined);
  }
}
