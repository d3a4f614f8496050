/**
 * Group commit for counts that arrive over HTTP: while one batch is on its way to Redis, the
 * counts of every request that comes in meanwhile add up into the next batch, which leaves as soon
 * as the first has landed. Each request waits for its own batch, so a 202 still means "in Redis";
 * a quiet system sends at once, and an error storm becomes a few jobs instead of one per request.
 */
interface Batch {
  counts: Map<string, number>;
  /** When its first request joined (performance.now()). */
  since: number;
  done: Promise<string | null>;
  start: () => void;
}

/** The least time between two batches' starts by default (see CountBatcher's `minIntervalMs`). */
export const INGEST_BATCH_MS = 2;

export class CountBatcher {
  private next: Batch | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private lastStart = -Infinity;

  private readonly maxRules: number;
  private readonly minIntervalMs: number;

  constructor(
    /** `waitedMs`: how long the batch's first request has waited already (behind the one in flight). */
    private readonly send: (counts: Record<string, number>, waitedMs: number) => Promise<string | null>,
    opts: {
      /** Distinct rules per batch; past it, counts wait for the following batch. */
      maxRules?: number;
      /**
       * The least time between two batches' starts (CALLGUARD_INGEST_BATCH_MS). Every request waits
       * for its batch, so clients that await their reports send at most one report each per
       * interval: at 10 ms, 50 such clients were held to 5,000 a second while this process sat a
       * quarter idle (bench P7).
       */
      minIntervalMs?: number;
    } = {},
  ) {
    this.maxRules = opts.maxRules ?? 1000;
    this.minIntervalMs = opts.minIntervalMs ?? INGEST_BATCH_MS;
  }

  /** Resolves with the id of the job that carried these counts, once it is in Redis. */
  submit(counts: Record<string, number>): Promise<string | null> {
    if (!Object.keys(counts).length) return Promise.resolve(null);
    const batch = this.batchFor(counts);
    for (const [rule, n] of Object.entries(counts)) batch.counts.set(rule, (batch.counts.get(rule) ?? 0) + n);
    return batch.done;
  }

  private batchFor(counts: Record<string, number>): Batch {
    const fits = (b: Batch) => Object.keys(counts).filter((r) => !b.counts.has(r)).length + b.counts.size <= this.maxRules;
    if (this.next && fits(this.next)) return this.next;
    let start!: () => void;
    const started = new Promise<void>((r) => (start = r));
    const batch: Batch = {
      counts: new Map<string, number>(),
      since: performance.now(),
      start,
      done: started.then(() => {
        if (this.next === batch) this.next = undefined;
        return this.send(Object.fromEntries(batch.counts), performance.now() - batch.since);
      }),
    };
    this.next = batch;
    // One batch in flight at a time; the next one gathers counts until it may leave.
    const previous = this.inFlight;
    this.inFlight = batch.done.catch(() => undefined);
    void previous.then(() => {
      const wait = this.lastStart + this.minIntervalMs - performance.now();
      const go = () => {
        this.lastStart = performance.now();
        batch.start();
      };
      if (wait > 0) setTimeout(go, wait);
      else go();
    });
    return batch;
  }
}
