import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

// Long enough to outlast any worker backlog between a firing notice and its resolved one.
const RESOLVED_MARK_MS = 24 * 60 * 60_000;

/**
 * Marks that order an alert's resolved notice against a firing notice handled after it: the
 * worker runs jobs concurrently, so a resolved notice enqueued later may run first.
 */
export class AlertMarks {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Remembers (for a day) that the hold's resolved notice enqueued at `enqueuedAt` was handled. */
  async markResolved(holdId: string, enqueuedAt: number): Promise<void> {
    await this.redis.set(this.keys.alertResolved(holdId), String(enqueuedAt), 'PX', RESOLVED_MARK_MS);
  }

  /** Was a resolved notice enqueued at or after `enqueuedAt` already handled? */
  async resolvedSince(holdId: string, enqueuedAt: number): Promise<boolean> {
    const at = await this.redis.get(this.keys.alertResolved(holdId));
    return at !== null && Number(at) >= enqueuedAt;
  }
}
