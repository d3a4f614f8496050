import { setTimeout as delay } from 'node:timers/promises';
import type { Queue, Worker, WorkerOptions } from 'bullmq';
import { createGuardedWorker } from '../../src/client/guarded-worker.js';
import { settled } from '../support/fences.js';
import { waitFor } from '../support/harness.js';

/** The dispatch worker's concurrency: at most this many calls can be in flight when a hold lands. */
export const CONCURRENCY = 4;

export interface DispatchFigures {
  in: number;
  completed: number;
  failed: number;
  providerCalls: number;
  calledTwice: string[];
  neverCalled: string[];
}

/**
 * An app's guarded dispatch worker on callguard's `calls` queue, with a simulated provider that
 * records each call (which job, when it started), and the feed of jobs the test gives it.
 */
export class Dispatch {
  readonly fed: string[] = [];
  readonly calls: Array<{ id: string; at: number }> = [];
  private readonly worker: Worker;
  private feeding: Promise<void> | undefined;
  private stopFeeding = false;

  /**
   * `queue`: the test's own handle on the same queue, to add jobs and read counts; `timing`: for a
   * test that kills Redis, how soon jobs active then come back (BullMQ's stalled check).
   */
  constructor(
    private readonly queue: Queue,
    redisUrl: string,
    env: Record<string, string>,
    timing: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval'> = {},
  ) {
    const connection = { url: redisUrl, maxRetriesPerRequest: null, retryStrategy: () => 200 };
    this.worker = createGuardedWorker(
      'calls',
      async (job) => {
        this.calls.push({ id: job.id!, at: Date.now() });
        await delay(5); // the provider's round trip
      },
      {
        connection,
        prefix: env.CALLGUARD_QUEUE_PREFIX,
        callguardPrefix: env.CALLGUARD_PREFIX,
        retryDelayMs: 100,
        concurrency: CONCURRENCY,
        ...timing,
      },
    );
    this.worker.on('error', () => undefined);
  }

  async feed(n: number, tag: string): Promise<void> {
    const ids = Array.from({ length: n }, (_, i) => `${tag}-${this.fed.length + i}`);
    this.fed.push(...ids);
    await this.queue.addBulk(ids.map((jobId) => ({ name: 'call', data: {}, opts: { jobId } })));
  }

  /** Adds a job every `everyMs` until `stop()`, as an app keeps dispatching while a fault happens. */
  start(tag: string, everyMs = 50): void {
    this.stopFeeding = false;
    this.feeding = (async () => {
      while (!this.stopFeeding) {
        await this.feed(1, tag);
        await delay(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopFeeding = true;
    await this.feeding;
  }

  /**
   * When (ms after `from`) the provider calls that started in [from, to) did: a hold's window, its
   * start on Redis' clock (this machine's).
   */
  callsBetween(from: number, to: number): number[] {
    return this.calls.filter((c) => c.at >= from && c.at < to).map((c) => c.at - from);
  }

  /**
   * Waits until `inQueue` jobs (default: every job fed) have finished in the queue and none is left
   * to run, then tells what the provider saw.
   */
  async drained(inQueue = this.fed.length, timeoutMs = 90_000): Promise<DispatchFigures> {
    await waitFor(async () => (await this.queue.getCompletedCount()) + (await this.queue.getFailedCount()) >= inQueue, {
      timeoutMs,
      what: `${inQueue} dispatch jobs finished`,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await this.queue.getJobCounts())}, provider calls ${this.calls.length}`);
    });
    await settled(this.queue);
    return this.figures();
  }

  async figures(): Promise<DispatchFigures> {
    const byId = new Map<string, number>();
    for (const c of this.calls) byId.set(c.id, (byId.get(c.id) ?? 0) + 1);
    return {
      in: this.fed.length,
      completed: await this.queue.getCompletedCount(),
      failed: await this.queue.getFailedCount(),
      providerCalls: this.calls.length,
      calledTwice: [...byId].filter(([, n]) => n > 1).map(([id]) => id),
      neverCalled: this.fed.filter((id) => !byId.has(id)),
    };
  }

  async close(): Promise<void> {
    await this.stop();
    await this.worker.close(true).catch(() => undefined);
  }
}
