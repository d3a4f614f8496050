import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { copyHistory } from './scripts.js';

/** Minutes of per-minute counts kept for dry-run replays: 24 hours. */
export const HISTORY_MINUTES = 1440;
/** Finished minutes copied on each tick: a missed tick or two loses nothing. */
const COPY_MINUTES = 3;
const SLOT_BYTES = 8;
// Counters per copy script call: a few µs of Redis time each.
const COPY_CHUNK = 200;

/**
 * Per-counter per-minute counts for the last 24 h, kept beside the short-lived window buckets:
 * one fixed-size string per counter (a rule's errors, or one of its outcome parts), a ring of
 * HISTORY_MINUTES slots of two u32 (minute number, count), written with BITFIELD. 11.5 kB per
 * counter whatever the traffic (12 kB in Redis' memory: each ring is written whole, one byte
 * past its slots, where one grown slot by slot took up to 20 kB), so memory is bounded by the
 * number of rules, never by load.
 * Each tick copies the last finished minutes from the counts hashes; writing the same minute
 * twice (two instances, a re-run) sets the same value, so copies never double.
 */
export class History {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly minuteMs: number,
  ) {}

  /**
   * The newest minute each counter's copy reached in this process. A finished minute's bucket no
   * longer changes (counts go to Redis' current minute), so it is copied once, not on every tick:
   * at 10,000 rules a copy is 10,000 reads and writes (bench P5).
   */
  private copied = new Map<string, number>();

  /** The last finished minute when every counter of a record() had been copied through it. */
  private doneThrough = -Infinity;

  /**
   * Copies the last finished minutes of the counters from their buckets (copy-history-n.lua), each
   * minute once. The counters are asked for only when a minute is due: until the next one ends,
   * a tick after a complete copy costs one TIME (a counter renamed meanwhile is copied then,
   * still within the minutes a copy looks back).
   */
  async record(countersNow: () => string[]): Promise<void> {
    const current = Math.floor((await this.now()) / this.minuteMs);
    if (this.doneThrough >= current - 1) return;
    const counters = countersNow();
    const copied = new Map<string, number>();
    const due: Array<{ counter: string; minutes: number[] }> = [];
    for (const c of counters) {
      const last = this.copied.get(c);
      // Counters no longer passed (another rules version) are forgotten with the old map.
      if (last !== undefined) copied.set(c, last);
      const from = Math.max(current - COPY_MINUTES, last === undefined ? -Infinity : last + 1);
      const minutes: number[] = [];
      for (let m = current - 1; m >= from; m--) minutes.push(m);
      if (minutes.length) due.push({ counter: c, minutes });
    }
    this.copied = copied;
    if (!due.length) return void (this.doneThrough = current - 1);
    // Counters due the same minutes (nearly always all of them) go together, COPY_CHUNK a call.
    const groups = new Map<string, { minutes: number[]; counters: string[] }>();
    for (const { counter, minutes } of due) {
      const key = minutes.join(' ');
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { minutes, counters: [] }));
      group.counters.push(counter);
    }
    const calls: Array<Promise<void>> = [];
    for (const { minutes, counters: group } of groups.values()) {
      for (let i = 0; i < group.length; i += COPY_CHUNK) {
        const chunk = group.slice(i, i + COPY_CHUNK);
        const copy = copyHistory(
          this.redis,
          chunk.map((c) => [this.keys.counts(c), this.keys.history(c)]),
          { minutes, ringMinutes: HISTORY_MINUTES, ttlMs: (HISTORY_MINUTES + COPY_MINUTES) * this.minuteMs },
        );
        // A call that failed leaves its counters due: they are tried again on the next tick.
        calls.push(copy.then(() => chunk.forEach((c) => copied.set(c, current - 1))).catch(() => undefined));
      }
    }
    await Promise.all(calls);
    if (counters.every((c) => copied.get(c) === current - 1)) this.doneThrough = current - 1;
  }

  /**
   * Per-minute counts of each counter from `from` to `to` (minute numbers, inclusive), oldest
   * first; minutes not kept read as 0. The current minute comes from the live buckets.
   */
  async read(counters: string[], from: number, to: number): Promise<Record<string, number[]>> {
    // The newest minutes may not be copied yet: their live buckets win while they exist.
    const recent = Array.from({ length: COPY_MINUTES + 1 }, (_, i) => to - i);
    const pipe = this.redis.pipeline();
    for (const c of counters) pipe.getBuffer(this.keys.history(c));
    for (const c of counters) pipe.hmget(this.keys.counts(c), ...recent.map(String));
    const replies = (await pipe.exec()) ?? [];
    const out: Record<string, number[]> = {};
    counters.forEach((c, i) => {
      const ring = (replies[i]?.[1] as Buffer | null) ?? Buffer.alloc(0);
      const live = (replies[counters.length + i]?.[1] as Array<string | null> | undefined) ?? [];
      out[c] = Array.from({ length: to - from + 1 }, (_, k) => {
        const m = from + k;
        const fresh = to - m <= COPY_MINUTES ? live[to - m] : null;
        if (fresh !== null && fresh !== undefined) return Number(fresh);
        const at = (m % HISTORY_MINUTES) * SLOT_BYTES;
        if (at + SLOT_BYTES > ring.length || ring.readUInt32BE(at) !== m >>> 0) return 0;
        return ring.readUInt32BE(at + 4);
      });
    });
    return out;
  }

  /** Redis' clock, ms. */
  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }
}
