import { RedisStore } from 'rate-limit-redis';
import type { Keys } from '../../store/keys.js';
import type { CallguardRedis } from '../../store/redis.js';

/**
 * An express-rate-limit store in callguard's Redis, under its prefix: counts are shared by every
 * instance and survive restarts, so neither a second replica nor a restart resets a limit.
 */
export function redisLimitStore(redis: CallguardRedis, keys: Keys, limiter: string): RedisStore {
  return new RedisStore({
    prefix: keys.rateLimitPrefix(limiter),
    sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<number | string>,
  });
}
