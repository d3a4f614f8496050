import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/**
 * Signatures already accepted. A signed request carries its timestamp, so it can be replayed
 * only while that timestamp is inside the window: remembering the signature exactly that long
 * (SET NX with that TTL) refuses every replay and forgets it when it could not be accepted anyway.
 */
export class ReplayGuard {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** True the first time a signature is seen within `ttlMs`; false for a repeat. */
  async firstUse(kind: string, signature: string, ttlMs: number): Promise<boolean> {
    const ok = await this.redis.set(this.keys.signatureSeen(kind, signature.toLowerCase()), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return ok === 'OK';
  }

  /** Undoes firstUse when the request it admitted could not be carried out, so the sender's retry is not refused. */
  async forget(kind: string, signature: string): Promise<void> {
    await this.redis.del(this.keys.signatureSeen(kind, signature.toLowerCase()));
  }
}
