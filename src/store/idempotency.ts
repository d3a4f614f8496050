import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { claimIdempotency, type Claim } from './scripts.js';

/**
 * A repeated Idempotency-Key is answered as the first request was, for this long: retries of one
 * batch come within seconds or minutes, and every key is stored for this long.
 */
export const IDEMPOTENCY_TTL_MS = 60 * 60_000;
/**
 * The most keys one principal may hold over IDEMPOTENCY_TTL_MS (about 380 B each: 7.6 MB at most).
 * A client flushing four times a second with a fresh key each time stays under it (14,400 an hour).
 */
export const IDEMPOTENCY_KEYS_PER_PRINCIPAL = 20_000;
// A request holding a key this long without finishing is taken to have died; its key is free again.
export const PENDING_MS = 60_000;

export type Remembered = Claim;

/** Answers remembered by Idempotency-Key (already hashed with the principal), under callguard's prefix. */
export class IdempotencyStore {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Claims the key for this request, or says it is in progress, what it was answered, or that the principal's quota is full. */
  begin(key: string, principal: string, cap = IDEMPOTENCY_KEYS_PER_PRINCIPAL): Promise<Remembered> {
    return claimIdempotency(
      this.redis,
      { answer: this.keys.idempotency(key), quota: this.keys.idempotencyQuota(principal) },
      // Seven buckets of a sixth of the lifetime each cover every key still stored.
      { pendingMs: PENDING_MS, cap, bucketMs: Math.ceil(IDEMPOTENCY_TTL_MS / 6) },
    );
  }

  async finish(key: string, reply: unknown): Promise<void> {
    await this.redis.set(this.keys.idempotency(key), JSON.stringify(reply), 'PX', IDEMPOTENCY_TTL_MS);
  }

  /** The request failed: a retry with the same key does the work again. */
  async abandon(key: string): Promise<void> {
    await this.redis.del(this.keys.idempotency(key));
  }
}
