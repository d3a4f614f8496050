import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { longestWindow } from '../domain/rules.js';
import type { Rule } from '../domain/types.js';

/** Per-rule minute buckets in Redis, numbered by Redis' clock. */
export class Counters {
  private readonly keep: number;

  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly rules: Rule[],
    private readonly minuteMs: number,
  ) {
    // Buckets live one minute longer than the longest window, never a fixed number of seconds.
    this.keep = longestWindow(rules) + 1;
  }

  /** Adds `count` errors to the rule's current bucket; returns its window sum and Redis' now. */
  async record(rule: Rule, count: number): Promise<{ sum: number; now: number }> {
    const [sum, now] = await this.redis.cgRecord(this.keys.counts(rule.name), count, this.minuteMs, this.keep, rule.windowMinutes);
    return { sum, now };
  }

  /** Window sums of the given rules, read against Redis' clock in one round trip. */
  async sums(rules: Rule[] = this.rules): Promise<{ now: number; counts: Record<string, number> }> {
    const [now, ...sums] = await this.redis.cgSumCounts(
      rules.length,
      ...rules.map((r) => this.keys.counts(r.name)),
      this.minuteMs,
      ...rules.map((r) => r.windowMinutes),
    );
    const counts: Record<string, number> = {};
    rules.forEach((r, i) => (counts[r.name] = sums[i] ?? 0));
    return { now: now!, counts };
  }

  /**
   * Per-minute counts over each rule's window, oldest minute first (the last is the current
   * minute), read against Redis' clock in one MULTI: what sums() adds up, minute by minute.
   */
  async buckets(rules: Rule[] = this.rules): Promise<{ now: number; buckets: Record<string, number[]> }> {
    const multi = this.redis.multi().time();
    for (const r of rules) multi.hgetall(this.keys.counts(r.name));
    const [[, time], ...hashes] = (await multi.exec()) as [[unknown, [string, string]], ...[unknown, Record<string, string>][]];
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const current = Math.floor(now / this.minuteMs);
    const buckets: Record<string, number[]> = {};
    rules.forEach((r, i) => {
      const hash = hashes[i]?.[1] ?? {};
      buckets[r.name] = Array.from({ length: r.windowMinutes }, (_, j) => Number(hash[String(current - r.windowMinutes + 1 + j)] ?? 0));
    });
    return { now, buckets };
  }

  /** Restarts the rules' windows, so a burst from before a manual resume cannot re-trip. */
  async reset(ruleNames: string[]): Promise<void> {
    if (ruleNames.length) await this.redis.del(...ruleNames.map((r) => this.keys.counts(r)));
  }
}
