import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';

/**
 * A key that says "this Redis holds callguard's state". It is written once and never expires; a
 * Redis that answers without it has lost what callguard kept there (a restart without persistence,
 * a failover to an empty replica), and with it every hold.
 */
export class StateMarker {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Writes the marker if it is missing; true when it was missing. */
  async ensure(now: number): Promise<boolean> {
    return (await this.redis.set(this.keys.stateMarker, String(now), 'NX')) === 'OK';
  }
}
