import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/** Long enough to outlast any worker backlog between a firing notice and its resolved one. */
export const RESOLVED_MARK_MS = 24 * 60 * 60_000;
/** At most this many marks are kept (about 2 MB at the longest hold ids); the oldest go first. */
export const MAX_RESOLVED_MARKS = 10_000;

/** One mark per principal and hold: a resolved notice only ever orders its own sender's firing notices. */
const member = (principal: string, holdId: string) => JSON.stringify([principal, holdId]);

/**
 * Marks that order an alert's resolved notice against a firing notice handled after it: the
 * worker runs jobs concurrently, so a resolved notice enqueued later may run first.
 * Kept in one sorted set capped by count and age: resolved notices for alerts that never fired
 * (a flood of them) can only push old marks out, never grow Redis. A mark names the principal
 * that sent the notice, and only that principal's firing notices read it: another sender's
 * resolved notice can never release a hold through a mark.
 */
export class AlertMarks {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly max = MAX_RESOLVED_MARKS,
    private readonly ttlMs = RESOLVED_MARK_MS,
  ) {}

  /**
   * Remembers that `principal`'s resolved notice for the hold, enqueued at `enqueuedAt`, was
   * handled. `now` is Redis' clock: the mark is never later than now, and age trimming counts from
   * now, so a time from the future can neither outlive nor push out other marks. Independent
   * writes batched in MULTI: none of them reads what another wrote.
   */
  async markResolved(holdId: string, principal: string, enqueuedAt: number, now: number): Promise<void> {
    const key = this.keys.alertResolved;
    await this.redis
      .multi()
      .zadd(key, 'GT', Math.min(enqueuedAt, now), member(principal, holdId))
      .zremrangebyscore(key, '-inf', `(${now - this.ttlMs}`)
      .zremrangebyrank(key, 0, -(this.max + 1))
      .pexpire(key, this.ttlMs)
      .exec();
  }

  /** Was a resolved notice from `principal`, enqueued at or after `enqueuedAt`, already handled? */
  async resolvedSince(holdId: string, principal: string, enqueuedAt: number): Promise<boolean> {
    const at = await this.redis.zscore(this.keys.alertResolved, member(principal, holdId));
    return at !== null && Number(at) >= enqueuedAt;
  }
}
