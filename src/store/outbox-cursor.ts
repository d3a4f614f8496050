import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { advanceCursor } from './scripts.js';

/** Where the outbox has read the audit stream up to; shared by every instance, only ever moving forward. */
export class OutboxCursor {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Sets the position if there is none yet (a first start does not replay old history). */
  async init(lastId: string): Promise<void> {
    await this.redis.set(this.keys.notifyCursor, lastId, 'NX');
  }

  async get(): Promise<string> {
    return (await this.redis.get(this.keys.notifyCursor)) ?? '0-0';
  }

  async advance(id: string): Promise<void> {
    await advanceCursor(this.redis, { cursor: this.keys.notifyCursor }, id);
  }
}
