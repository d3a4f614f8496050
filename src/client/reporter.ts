import type { Queue } from 'bullmq';
import { JOB } from '../jobs/contract.js';
import { withTimeout } from '../domain/timeout.js';
import type { ErrorSink } from '../domain/types.js';

export interface ReporterOptions {
  /** How long counts are coalesced before one job is added. */
  flushMs?: number;
  /** Distinct rule names held between flushes; more are dropped and counted. */
  maxRules?: number;
  /** A flush that has not reached Redis by then counts as failed, so shutdown never hangs. */
  flushTimeoutMs?: number;
  onError?: (err: unknown) => void;
}

export interface ReporterStats {
  reported: number;
  flushes: number;
  dropped: number;
  failedFlushes: number;
}

/**
 * Adds up error counts per rule in memory and flushes them as one `error-report` job per
 * interval, so an error storm costs a few Redis commands and the caller never waits on Redis.
 */
export class Reporter implements ErrorSink {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private readonly maxRules: number;
  readonly stats: ReporterStats = { reported: 0, flushes: 0, dropped: 0, failedFlushes: 0 };

  constructor(
    private readonly queue: Queue,
    private readonly options: ReporterOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 250;
    this.maxRules = options.maxRules ?? 1000;
  }

  report(rule: string, count = 1): void {
    if (typeof rule !== 'string' || !rule || !Number.isSafeInteger(count) || count <= 0) {
      this.stats.dropped += 1;
      return;
    }
    if (!this.pending.has(rule) && this.pending.size >= this.maxRules) {
      this.stats.dropped += count;
      return;
    }
    this.pending.set(rule, (this.pending.get(rule) ?? 0) + count);
    this.stats.reported += count;
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  /** Sends what is pending now; resolves when it is in Redis (or has failed and been counted). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.size) return this.inFlight;
    const counts = Object.fromEntries(this.pending);
    this.pending = new Map();
    this.stats.flushes += 1;
    const timeoutMs = this.options.flushTimeoutMs ?? 5000;
    this.inFlight = this.inFlight.then(() =>
      withTimeout(this.queue.add(JOB.errorReport, { counts }, { removeOnComplete: 1000, removeOnFail: 5000 }), timeoutMs, () => {
        throw new Error(`flush did not reach Redis within ${timeoutMs} ms`);
      })
        .then(
          () => undefined,
          (err) => {
            this.stats.failedFlushes += 1;
            this.stats.dropped += Object.values(counts).reduce((a, b) => a + b, 0);
            try {
              this.options.onError?.(err);
            } catch {
              // never let a reporting failure reach the caller
            }
          },
        ),
    );
    return this.inFlight;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
