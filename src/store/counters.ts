import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { cancelReport, record, sumCounts, sumCountsCall, type SumCountsCall } from './scripts.js';
import { longestWindow } from '../domain/rules.js';
import { countersOf, OUTCOME_PARTS, outcomeCounter, readsOutcomes, type Counted } from '../domain/outcomes.js';
import type { Rule } from '../domain/types.js';

// Counters per sum script call: about a µs of Redis time each, so a call stays well under a millisecond
// (the shorter a call, the less likely a loaded machine deschedules Redis in the middle of it).
const SUM_CHUNK = 200;
// Reads of at least this many rules keep their calls for the next read (see chunksOf).
const KEEP_FROM = 100;

interface SumChunk {
  names: string[];
  call: SumCountsCall;
}

/** What of a rule its counters depend on: its name, its window, whether it reads outcomes. */
function shapeOf(rule: Rule): string {
  return `${rule.windowMinutes}${readsOutcomes(rule) ? '+' : '-'}${rule.name}`;
}

// A report id is remembered this long: far beyond a stalled job's re-run or a reporter's resend.
const COUNTED_IDS_TTL_MS = 60 * 60 * 1000;

/** At most this many reported provider names are kept (names come from outside). */
export const MAX_REPORTED_PROVIDERS = 1000;
// Each process notes a provider again after this long, so a lost set fills up again.
const RENOTE_MS = 10 * 60 * 1000;

/** Per-rule minute buckets in Redis (errors, and call outcomes for rate rules), numbered by Redis' clock. */
export class Counters {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    /** The rules in force (their contents change when another rules version becomes active). */
    private readonly rules: Rule[],
    private readonly minuteMs: number,
  ) {}

  /** Provider → when this process last wrote it to the reported set (its own clock: only paces writes). */
  private readonly noted = new Map<string, number>();

  /** Buckets live one minute longer than the longest window, never a fixed number of seconds. */
  private get keep(): number {
    return longestWindow(this.rules) + 1;
  }

  /** Adds `count` errors to the rule's current bucket; returns its window sum and Redis' now. */
  async record(rule: Rule, count: number): Promise<{ sum: number; now: number }> {
    const { now, sums } = await this.recordReport([[rule, count]]);
    return { sum: sums[0]!, now };
  }

  /**
   * Adds one report's counts, all rules or none. With an id (the job id), a report counted before
   * adds nothing: `counted` is then false and the sums are 0.
   */
  async recordReport(entries: Array<[Counted, number]>, id = ''): Promise<{ now: number; counted: boolean; sums: number[] }> {
    return record(
      this.redis,
      { countedReports: this.keys.countedReports, windowSums: this.keys.windowSums },
      entries.map(([r]) => this.keys.counts(r.name)),
      {
        id,
        idTtlMs: COUNTED_IDS_TTL_MS,
        minuteMs: this.minuteMs,
        keep: this.keep,
        rules: entries.map(([r, n]) => [r.name, n, r.windowMinutes]),
      },
    );
  }

  /**
   * Remembers that workers report outcomes for these providers: one SADD per provider per process
   * every ten minutes, not one per report. Bounded: past MAX_REPORTED_PROVIDERS names, new ones
   * are not kept.
   */
  async noteProviders(providers: string[]): Promise<void> {
    const now = Date.now();
    const fresh = providers.filter((p) => now - (this.noted.get(p) ?? -Infinity) >= RENOTE_MS);
    if (!fresh.length) return;
    const known = await this.redis.smismember(this.keys.reportedProviders, ...fresh);
    const added = fresh.filter((_, i) => !known[i]);
    const room = added.length && (await this.redis.scard(this.keys.reportedProviders)) + added.length <= MAX_REPORTED_PROVIDERS;
    if (room) await this.redis.sadd(this.keys.reportedProviders, ...added);
    // Also when the set is full: those names then cost no Redis call per report until RENOTE_MS.
    if (this.noted.size < MAX_REPORTED_PROVIDERS) for (const p of fresh) this.noted.set(p, now);
  }

  /** The providers workers have reported outcomes for, sorted. */
  async reportedProviders(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.reportedProviders)).sort();
  }

  /**
   * Makes sure a report id is never counted: true if cancelled now, false if it was counted
   * already. For a report whose enqueue was not confirmed in time (see enqueue-report.ts).
   */
  async cancelReport(id: string): Promise<boolean> {
    return cancelReport(this.redis, { countedReports: this.keys.countedReports }, id, COUNTED_IDS_TTL_MS);
  }

  /**
   * Window sums of the given rules (and their outcome counts) against Redis' clock. Read in chunks
   * sent together: one script over thousands of rules would hold Redis (and the dispatch queues it
   * serves) for its whole run.
   */
  async sums(rules: Rule[] = this.rules): Promise<{ now: number; counts: Record<string, number> }> {
    const chunks = this.chunksOf(rules);
    const replies = await Promise.all(chunks.map((chunk) => sumCounts(this.redis, chunk.call)));
    const counts: Record<string, number> = {};
    let now = Infinity;
    replies.forEach(({ now: chunkNow, sums }, c) => {
      now = Math.min(now, chunkNow);
      chunks[c]!.names.forEach((name, i) => (counts[name] = sums[i] ?? 0));
    });
    return { now, counts };
  }

  /** The last large read's chunks, for as long as its rules are the same (they change in place). */
  private kept: { rules: Rule[]; shapes: string[]; chunks: SumChunk[] } | undefined;

  private chunksOf(rules: Rule[]): SumChunk[] {
    const kept = this.kept;
    if (kept && kept.rules.length === rules.length && rules.every((r, i) => r === kept.rules[i] && shapeOf(r) === kept.shapes[i])) {
      return kept.chunks;
    }
    const counted = countersOf(rules);
    const chunks: SumChunk[] = [];
    for (let i = 0; i < counted.length || !chunks.length; i += SUM_CHUNK) {
      const chunk = counted.slice(i, i + SUM_CHUNK);
      chunks.push({
        names: chunk.map((r) => r.name),
        call: sumCountsCall(
          { windowSums: this.keys.windowSums },
          chunk.map((r) => this.keys.counts(r.name)),
          { minuteMs: this.minuteMs, countsPrefix: this.keys.counts(''), windows: chunk.map((r) => r.windowMinutes) },
        ),
      });
    }
    // A few rules' calls cost little to make; keeping them would only push out the full tick's.
    if (rules.length >= KEEP_FROM) this.kept = { rules: [...rules], shapes: rules.map(shapeOf), chunks };
    return chunks;
  }

  /**
   * Per-minute counts (errors, and outcomes of rate rules) over each rule's window, oldest minute first (the last is the current
   * minute), read against Redis' clock in one MULTI: what sums() adds up, minute by minute.
   */
  async buckets(rules: Rule[] = this.rules): Promise<{ now: number; buckets: Record<string, number[]> }> {
    const counted = countersOf(rules);
    const multi = this.redis.multi().time();
    for (const r of counted) multi.hgetall(this.keys.counts(r.name));
    const [[, time], ...hashes] = (await multi.exec()) as [[unknown, [string, string]], ...[unknown, Record<string, string>][]];
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const current = Math.floor(now / this.minuteMs);
    const buckets: Record<string, number[]> = {};
    counted.forEach((r, i) => {
      const hash = hashes[i]?.[1] ?? {};
      buckets[r.name] = Array.from({ length: r.windowMinutes }, (_, j) => Number(hash[String(current - r.windowMinutes + 1 + j)] ?? 0));
    });
    return { now, buckets };
  }

  /** Restarts the rules' windows (errors and outcomes), so a burst from before a manual resume cannot re-trip. */
  async reset(ruleNames: string[]): Promise<void> {
    if (!ruleNames.length) return;
    const names = ruleNames.flatMap((r) => [r, ...OUTCOME_PARTS.map((p) => outcomeCounter(r, p))]);
    await this.redis
      .multi()
      .del(...names.map((r) => this.keys.counts(r)))
      .hdel(this.keys.windowSums, ...names)
      .exec();
  }
}
