import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { dropParkedTarget } from './scripts.js';

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

  /**
   * Notes the job before it is moved, so a release that lands in between still finds it; under
   * each of its held candidates, so the release of any of them brings it back (the others' notes
   * then promote a job that is no longer delayed, which does nothing).
   */
  async park(targets: string | string[], jobId: string, jobTimestamp: number): Promise<void> {
    const multi = this.redis.multi();
    for (const target of [targets].flat())
      multi.zadd(this.keys.parked(target), String(jobTimestamp), jobId).sadd(this.keys.parkedIndex, target);
    await multi.exec();
  }

  async forget(targets: string | string[], jobIds: string[]): Promise<void> {
    if (!jobIds.length) return;
    const multi = this.redis.multi();
    for (const target of [targets].flat()) multi.zrem(this.keys.parked(target), ...jobIds);
    await multi.exec();
  }

  async count(target: string): Promise<number> {
    return this.redis.zcard(this.keys.parked(target));
  }

  /**
   * Takes the oldest `count` parked jobs of a target off the list, as [id, job timestamp]. Taken
   * before they are promoted: a job re-parked under a new hold meanwhile stays listed.
   */
  async take(target: string, count: number): Promise<Array<[string, number]>> {
    const flat = await this.redis.zpopmin(this.keys.parked(target), count);
    const out: Array<[string, number]> = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
    return out;
  }

  /** Targets that may have parked jobs. */
  async targets(): Promise<string[]> {
    return this.redis.smembers(this.keys.parkedIndex);
  }

  /** Drops a target from the index once it has nothing parked (one step: a park racing this keeps it). */
  async dropIfEmpty(target: string): Promise<void> {
    await dropParkedTarget(this.redis, { parked: this.keys.parked(target), parkedIndex: this.keys.parkedIndex }, target);
  }
}
