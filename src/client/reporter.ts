import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { withTimeout } from '../domain/timeout.js';
import type { ErrorSink } from '../domain/types.js';
import type { ProviderOutcomes } from '../domain/outcomes.js';
import { PROVIDER_NAME } from '../domain/rules.js';
import { EVENTS_KEEP_COMPLETED, JOB, MAX_COUNT as MAX_JOB_COUNT, ruleName } from '../jobs/contract.js';

export interface ReporterOptions {
  /** How long counts are coalesced before one job is added. */
  flushMs?: number;
  /** Distinct rule names (and, separately, providers) held between flushes; more are dropped and counted. */
  maxRules?: number;
  /** Batches kept for resending while Redis is away; beyond it the oldest is dropped and counted. */
  maxUnsent?: number;
  /** A send that has not reached Redis by then is retried later (with the same job id). */
  flushTimeoutMs?: number;
  onError?: (err: unknown) => void;
  /**
   * The rule names callguard knows (e.g. from the rules file), when the app has them: a count for
   * any other name is dropped on its own (counted in `stats.dropped`, warned once per name) instead
   * of travelling to the worker. Names that cannot be rule names are dropped the same way anyway.
   */
  rules?: readonly string[];
  /** Told once per dropped name, and once per outage when Redis cannot be reached. Default: console.warn. */
  warn?: (message: string) => void;
  /**
   * Told once per outage that a flush could not reach Redis, in place of `warn` (createReporter
   * names the URL and the connection's own reason there, and says it once for both).
   */
  onUnreachable?: (err: unknown) => void;
}

export interface ReporterStats {
  reported: number;
  /** Call outcomes recorded (each call once). */
  calls: number;
  flushes: number;
  /** Counts and calls given up on: invalid reports, rules beyond maxRules, batches beyond maxUnsent or left at close. */
  dropped: number;
  /** Send attempts that failed or timed out (their counts are kept and resent). */
  failedFlushes: number;
  /** Counts in batches not yet confirmed in Redis. */
  unsent: number;
}

interface Batch {
  /** Also the job id: a batch resent after a timeout that did land is not added (or counted) twice. */
  id: string;
  counts: Record<string, number>;
  outcomes: Record<string, ProviderOutcomes>;
  sending: boolean;
  /** Counted as dropped at close; a late landing takes that back. */
  givenUp?: boolean;
}

const total = (b: Pick<Batch, 'counts' | 'outcomes'>) =>
  Object.values(b.counts).reduce((a, n) => a + n, 0) + Object.values(b.outcomes).reduce((a, o) => a + o.calls, 0);

const NO_THRESHOLDS: readonly number[] = [];

/**
 * One provider's outcomes while pending. Slow calls are counted per threshold in two short arrays:
 * thresholds are numbers like 1000, which an object would keep as sparse elements (bench P10b).
 */
interface Tally {
  calls: number;
  failures: number;
  thresholds: number[];
  slow: number[];
}

/**
 * Adds up error counts per rule in memory and flushes them as one `error-report` job per
 * interval, so an error storm costs a few Redis commands and the caller never waits on Redis.
 * Batches that do not reach Redis stay (bounded) and are resent with the same job id.
 */
export class Reporter implements ErrorSink {
  private pending = new Map<string, number>();
  private outcomes = new Map<string, Tally>();
  private readonly unsent: Batch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly flushMs: number;
  private readonly maxRules: number;
  private readonly maxUnsent: number;
  private readonly timeoutMs: number;
  private readonly stat = { reported: 0, calls: 0, flushes: 0, dropped: 0, failedFlushes: 0 };
  private readonly known: ReadonlySet<string> | undefined;
  private readonly warned = new Set<string>();
  private unreachableWarned = false;

  constructor(
    private readonly queue: Queue,
    private readonly options: ReporterOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 250;
    this.maxRules = options.maxRules ?? 1000;
    this.maxUnsent = options.maxUnsent ?? 1000;
    this.timeoutMs = options.flushTimeoutMs ?? 5000;
    this.known = options.rules ? new Set(options.rules) : undefined;
  }

  private warn(message: string): void {
    try {
      (this.options.warn ?? ((m: string) => console.warn(m)))(message);
    } catch {
      // never let a reporting failure reach the caller
    }
  }

  /** Drops a count for a name that is no rule, on its own; the first time per name, says so. */
  private dropName(rule: string, count: number, why: string): void {
    this.stat.dropped += count;
    const name = rule.slice(0, 80);
    if (this.warned.has(name) || this.warned.size >= 1000) return;
    this.warned.add(name);
    this.warn(`callguard reporter: dropped counts for ${JSON.stringify(name)}: ${why}`);
  }

  get stats(): ReporterStats {
    return { ...this.stat, unsent: this.unsent.reduce((n, b) => n + total(b), 0) };
  }

  report(rule: string, count = 1): void {
    // A storm repeats a few names: one already pending passed every check below, and while
    // anything is pending the flush is scheduled (bench P2).
    const pending = this.pending.get(rule);
    if (count === 1 && pending !== undefined && pending < MAX_JOB_COUNT && this.timer !== undefined) {
      this.pending.set(rule, pending + 1);
      this.stat.reported += 1;
      return;
    }
    if (typeof rule !== 'string' || !rule || !Number.isSafeInteger(count) || count <= 0) {
      this.stat.dropped += 1;
      return;
    }
    if (!ruleName.safeParse(rule).success) return this.dropName(rule, count, 'not a rule name (1 to 64 characters)');
    if (this.known && !this.known.has(rule)) return this.dropName(rule, count, 'no rule of that name');
    if (!this.pending.has(rule) && this.pending.size >= this.maxRules) {
      this.stat.dropped += count;
      return;
    }
    this.stat.reported += count;
    // The error-report job takes at most MAX_JOB_COUNT per rule: a storm beyond it seals the batch
    // and starts the next one rather than sending a job the worker would refuse.
    for (let left = count; left > 0;) {
      const room = MAX_JOB_COUNT - (this.pending.get(rule) ?? 0);
      if (room <= 0) {
        this.seal();
        continue;
      }
      const n = Math.min(room, left);
      this.pending.set(rule, (this.pending.get(rule) ?? 0) + n);
      left -= n;
    }
    this.schedule();
  }

  /**
   * Records one call's outcome for a provider: failed or not, and which of `slowMs` (the
   * slow_call_ms thresholds the rules set for it) it reached. Coalesced like errors.
   */
  outcome(provider: string, failed: boolean, durationMs: number, slowMs: readonly number[] = NO_THRESHOLDS): void {
    let o = this.outcomes.get(provider);
    if (!o) {
      // The error-report contract refuses a batch with a bad provider name, errors and all. A name
      // already pending passed this check: most calls skip it (bench P10b).
      if (typeof provider !== 'string' || !PROVIDER_NAME.test(provider)) {
        this.stat.dropped += 1;
        return;
      }
      if (this.outcomes.size >= this.maxRules) {
        this.stat.dropped += 1;
        return;
      }
      this.outcomes.set(provider, (o = { calls: 0, failures: 0, thresholds: [], slow: [] }));
    }
    this.stat.calls += 1;
    o.calls += 1;
    if (failed) o.failures += 1;
    for (let i = 0; i < slowMs.length; i++) {
      const ms = slowMs[i]!;
      if (durationMs < ms) continue;
      const at = o.thresholds.indexOf(ms);
      if (at >= 0) {
        o.slow[at]! += 1;
      } else {
        o.thresholds.push(ms);
        o.slow.push(1);
      }
    }
    if (o.calls >= MAX_JOB_COUNT) this.seal();
    this.schedule();
  }

  /** Sends what is pending now and resends what failed; resolves when these sends have settled. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.seal();
    // Sends run side by side: one stuck send must not hold back the timeout of the next.
    await Promise.all(this.unsent.filter((b) => !b.sending).map((b) => this.send(b)));
    if (this.unsent.length) this.schedule();
  }

  /** Flushes and waits for every batch to land, at most `timeoutMs`; what is left is dropped and counted. */
  async close(timeoutMs = this.timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await withTimeout(
      (async () => {
        await this.flush();
        while (this.unsent.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(this.flushMs, Math.max(0, deadline - Date.now()))));
          await this.flush();
        }
      })(),
      timeoutMs,
      () => undefined,
    );
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const b of this.unsent.splice(0)) {
      b.givenUp = true;
      this.stat.dropped += total(b);
    }
  }

  /** Turns what is pending into a batch of its own, ready to send. */
  private seal(): void {
    if (!this.pending.size && !this.outcomes.size) return;
    this.unsent.push({
      id: randomUUID(),
      counts: Object.fromEntries(this.pending),
      outcomes: Object.fromEntries(
        [...this.outcomes].map(([provider, o]) => [
          provider,
          { calls: o.calls, failures: o.failures, slow: Object.fromEntries(o.thresholds.map((ms, i) => [ms, o.slow[i]!])) },
        ]),
      ),
      sending: false,
    });
    this.pending = new Map();
    this.outcomes = new Map();
    this.stat.flushes += 1;
    while (this.unsent.length > this.maxUnsent) this.stat.dropped += total(this.unsent.shift()!);
  }

  // The check stays apart from the timer's closure so that V8 inlines it on every count (bench P10b).
  private schedule(): void {
    if (this.timer === undefined) this.startTimer();
  }

  private startTimer(): void {
    this.timer = setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  private landed(batch: Batch): void {
    this.unreachableWarned = false;
    const i = this.unsent.indexOf(batch);
    if (i >= 0) this.unsent.splice(i, 1);
    if (batch.givenUp) {
      batch.givenUp = false;
      this.stat.dropped -= total(batch);
    }
  }

  private async send(batch: Batch): Promise<void> {
    batch.sending = true;
    try {
      const add = this.queue.add(
        JOB.errorReport,
        {
          ...(Object.keys(batch.counts).length ? { counts: batch.counts } : {}),
          ...(Object.keys(batch.outcomes).length ? { outcomes: batch.outcomes } : {}),
        },
        { jobId: batch.id, removeOnComplete: EVENTS_KEEP_COMPLETED, removeOnFail: 5000 },
      );
      // A send that outlives its timeout may still land; then it is no longer unsent (nor dropped).
      add.then(
        () => this.landed(batch),
        () => undefined,
      );
      await withTimeout(add, this.timeoutMs, () => {
        throw new Error(`flush did not reach Redis within ${this.timeoutMs} ms; it will be resent`);
      });
    } catch (err) {
      this.stat.failedFlushes += 1;
      try {
        if (!this.unreachableWarned) {
          this.unreachableWarned = true;
          if (this.options.onUnreachable) this.options.onUnreachable(err);
          else
            this.warn(
              `callguard reporter: cannot reach Redis (${err instanceof Error ? err.message : String(err)}); counts are kept and resent`,
            );
        }
      } catch {
        // never let a reporting failure reach the caller (the flush timer would reject unhandled)
      }
      try {
        this.options.onError?.(err);
      } catch {
        // never let a reporting failure reach the caller
      }
    } finally {
      batch.sending = false;
    }
  }
}
