import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/**
 * Which signed jobs were carried out, until they expire: BullMQ frees a job id once the job is
 * trimmed from the completed list, so a copy re-added under the same id would otherwise act again.
 */
export class JobReceipts {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  async handled(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.jobReceipt(jobId))) === 1;
  }

  /** Kept until `expiresAt` (Redis' clock, ms): after that the signature refuses the job anyway. */
  async record(jobId: string, expiresAt: number): Promise<void> {
    await this.redis.set(this.keys.jobReceipt(jobId), '1', 'PXAT', expiresAt);
  }
}
