import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/** Long enough to outlast any worker backlog between a firing notice and its resolved one. */
export const RESOLVED_MARK_MS = 24 * 60 * 60_000;
/** At most this many marks are kept (about 2 MB at the longest hold ids); the oldest go first. */
export const MAX_RESOLVED_MARKS = 10_000;

/**
 * Marks that order an alert's resolved notice against a firing notice handled after it: the
 * worker runs jobs concurrently, so a resolved notice enqueued later may run first.
 * Kept in one sorted set capped by count and age: resolved notices for alerts that never fired
 * (a flood of them) can only push old marks out, never grow Redis.
 */
export class AlertMarks {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly max = MAX_RESOLVED_MARKS,
    private readonly ttlMs = RESOLVED_MARK_MS,
  ) {}

  /**
   * Remembers that the hold's resolved notice enqueued at `enqueuedAt` was handled. Independent
   * writes batched in MULTI: none of them reads what another wrote.
   */
  async markResolved(holdId: string, enqueuedAt: number): Promise<void> {
    const key = this.keys.alertResolved;
    await this.redis
      .multi()
      .zadd(key, 'GT', enqueuedAt, holdId)
      .zremrangebyscore(key, '-inf', `(${enqueuedAt - this.ttlMs}`)
      .zremrangebyrank(key, 0, -(this.max + 1))
      .pexpire(key, this.ttlMs)
      .exec();
  }

  /** Was a resolved notice enqueued at or after `enqueuedAt` already handled? */
  async resolvedSince(holdId: string, enqueuedAt: number): Promise<boolean> {
    const at = await this.redis.zscore(this.keys.alertResolved, holdId);
    return at !== null && Number(at) >= enqueuedAt;
  }
}
