import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * Dispatch jobs parked while their provider is held: the guarded worker moves such a job to
 * BullMQ's delayed set (far ahead) and notes it here; the release promotes exactly these jobs,
 * oldest first. A held job thus costs one park and one promote, not a check every second.
 */
export class ParkedJobs {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Notes the job before it is moved, so a release that lands in between still finds it. */
  async park(target: string, jobId: string, jobTimestamp: number): Promise<void> {
    await this.redis.multi().zadd(this.keys.parked(target), String(jobTimestamp), jobId).sadd(this.keys.parkedIndex, target).exec();
  }

  async forget(target: string, jobIds: string[]): Promise<void> {
    if (jobIds.length) await this.redis.zrem(this.keys.parked(target), ...jobIds);
  }

  /** The oldest `count` parked jobs of a target. */
  async oldest(target: string, count: number): Promise<string[]> {
    return this.redis.zrange(this.keys.parked(target), '0', String(count - 1));
  }

  /** Targets that may have parked jobs. */
  async targets(): Promise<string[]> {
    return this.redis.smembers(this.keys.parkedIndex);
  }

  /** Drops a target from the index once it has nothing parked (a park racing this re-adds it). */
  async dropIfEmpty(target: string): Promise<void> {
    if ((await this.redis.zcard(this.keys.parked(target))) === 0) await this.redis.srem(this.keys.parkedIndex, target);
  }
}
