import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/**
 * Signatures already accepted. A signed request carries its timestamp, so it can be replayed
 * only while that timestamp is inside the window: remembering the signature that long refuses every
 * replay and forgets it when it could not be accepted anyway. The marker expires at an absolute
 * time on Redis' clock (SET NX PXAT), plus a margin for instances whose clocks run behind it, so no
 * one instance's clock decides how long every instance refuses a replay.
 */
const CLOCK_SKEW_MARGIN_MS = 5 * 60_000;

export class ReplayGuard {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /**
   * True the first time a signature is seen; false for a repeat. `validUntil` (Unix ms) is when the
   * signature stops being accepted; an untimed signature is remembered for `untimedMs` from now.
   */
  async firstUse(kind: string, signature: string, validUntil: number | undefined, untimedMs: number): Promise<boolean> {
    const key = this.keys.signatureSeen(kind, signature.toLowerCase());
    const ok =
      validUntil === undefined
        ? await this.redis.set(key, '1', 'PX', Math.max(1, Math.ceil(untimedMs)), 'NX')
        : await this.redis.set(key, '1', 'PXAT', Math.ceil(validUntil) + CLOCK_SKEW_MARGIN_MS, 'NX');
    return ok === 'OK';
  }

  /** Undoes firstUse when the request it admitted could not be carried out, so the sender's retry is not refused. */
  async forget(kind: string, signature: string): Promise<void> {
    await this.redis.del(this.keys.signatureSeen(kind, signature.toLowerCase()));
  }
}
