/**
 * Events a test waits for before it asserts, instead of the clock. "Nothing happened" is only
 * proven once something that would have made it happen is known to be over: an evaluator tick
 * that ran after the set-up, a job BullMQ has marked finished, a queue with no job left to run.
 */
import type { Job, Queue } from 'bullmq';
import { JOB } from '../../src/jobs/contract.js';
import { waitFor } from './harness.js';

/**
 * The completed jobs named `name` that started after `since` (ms), once there are `n` of them.
 * The workers run in this process, so BullMQ's processedOn is on our clock.
 */
export async function runsAfter(queue: Queue, name: string, since: number, n = 1): Promise<Job[]> {
  return waitFor(
    async () => {
      const done = (await queue.getJobs(['completed'])).filter((j) => j.name === name && (j.processedOn ?? 0) > since);
      return done.length >= n && done;
    },
    { timeoutMs: 20_000 + n * 5_000, what: `${n} ${name} job(s) in ${queue.name} started after ${new Date(since).toISOString()}` },
  );
}

/**
 * Resolves once `n` scheduled evaluator ticks (the `evaluate` job) that started after this call
 * have completed: each read the state the test had set up, and its enforcement and notifications
 * are done.
 */
export async function ticks(events: Queue, n = 1): Promise<void> {
  await runsAfter(events, JOB.evaluate, Date.now(), n);
}

/**
 * Resolves when no job of `queue` is waiting, delayed, prioritized or running: everything added so
 * far has completed or failed for good. Not for a queue with a job scheduler, whose next run always waits.
 */
export async function settled(queue: Queue): Promise<void> {
  await waitFor(
    async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      return Object.values(counts).every((n) => n === 0);
    },
    { what: `queue ${queue.name} with no job left to run` },
  );
}

/**
 * Waits until BullMQ has marked one job completed or failed and returns its return value; rejects
 * with the failure reason. It reads the job's state rather than QueueEvents: an event sent before
 * the subscription's first read would be missed, and a loaded machine widens that gap.
 */
export async function finished(queue: Queue, jobId: string, timeoutMs = 30_000): Promise<unknown> {
  const state = await waitFor(
    async () => {
      const s = await queue.getJobState(jobId);
      return (s === 'completed' || s === 'failed') && s;
    },
    { timeoutMs, what: `job ${jobId} in ${queue.name} finished` },
  );
  const job = await queue.getJob(jobId);
  if (state === 'failed') throw new Error(job?.failedReason ?? `job ${jobId} failed`);
  return job?.returnvalue;
}
