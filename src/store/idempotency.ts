import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/** A repeated Idempotency-Key is answered as the first request was, for this long. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
// A request holding a key this long without finishing is taken to have died; its key is free again.
const PENDING_MS = 60_000;

export type Remembered = { state: 'new' } | { state: 'pending' } | { state: 'done'; reply: unknown };

/** Answers remembered by Idempotency-Key (already hashed with the principal), under callguard's prefix. */
export class IdempotencyStore {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Claims the key for this request, or says it is in progress or what it was answered. */
  async begin(key: string): Promise<Remembered> {
    const k = this.keys.idempotency(key);
    if ((await this.redis.set(k, '', 'PX', PENDING_MS, 'NX')) === 'OK') return { state: 'new' };
    const stored = await this.redis.get(k);
    return stored ? { state: 'done', reply: JSON.parse(stored) as unknown } : { state: 'pending' };
  }

  async finish(key: string, reply: unknown): Promise<void> {
    await this.redis.set(this.keys.idempotency(key), JSON.stringify(reply), 'PX', IDEMPOTENCY_TTL_MS);
  }

  /** The request failed: a retry with the same key does the work again. */
  async abandon(key: string): Promise<void> {
    await this.redis.del(this.keys.idempotency(key));
  }
}
