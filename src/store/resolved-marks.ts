import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/** Long enough to outlast any worker backlog between a firing notice and its resolved one. */
export const RESOLVED_MARK_MS = 24 * 60 * 60_000;
/** At most this many marks are kept (about 2 MB at the longest hold ids); the oldest go first. */
export const MAX_RESOLVED_MARKS = 10_000;

/**
 * When each alert hold's latest resolved notice was enqueued. The worker runs jobs concurrently,
 * so a resolved notice may be handled before the firing notice enqueued ahead of it; the firing
 * side reads the mark after placing its hold and releases it again when the mark is newer.
 * Kept in one sorted set capped by count and age: resolved notices for alerts that never fired
 * (a flood of them) can only push old marks out, never grow Redis.
 */
export class ResolvedMarks {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly max = MAX_RESOLVED_MARKS,
    private readonly ttlMs = RESOLVED_MARK_MS,
  ) {}

  /** Independent writes batched in MULTI: none of them reads what another wrote. */
  async mark(holdId: string, at: number): Promise<void> {
    const key = this.keys.alertResolved;
    await this.redis
      .multi()
      .zadd(key, 'GT', at, holdId)
      .zremrangebyscore(key, '-inf', `(${at - this.ttlMs}`)
      .zremrangebyrank(key, 0, -(this.max + 1))
      .pexpire(key, this.ttlMs)
      .exec();
  }

  /** ms of the latest resolved notice for the hold, if one is remembered. */
  async get(holdId: string): Promise<number | undefined> {
    const score = await this.redis.zscore(this.keys.alertResolved, holdId);
    return score === null ? undefined : Number(score);
  }
}
