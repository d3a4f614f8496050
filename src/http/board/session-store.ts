import { RedisStore } from 'connect-redis';
import { scanKeys, type RedisClient } from '../../store/redis.js';

/**
 * connect-redis 9 speaks node-redis' API; callguard runs on ioredis. This is the handful of
 * commands the store calls, translated, so sessions share callguard's connection and prefix.
 */
function nodeRedisFacade(redis: RedisClient) {
  return {
    get: (key: string) => redis.get(key),
    set: (key: string, value: string, opts?: { expiration?: { type: 'EX'; value: number } }) =>
      opts?.expiration ? redis.set(key, value, 'EX', opts.expiration.value) : redis.set(key, value),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    // Session keys share callguard's hash tag, so these multi-key commands stay in one slot.
    del: (keys: string | string[]) => redis.del(...[keys].flat()),
    mGet: (keys: string[]) => redis.mget(keys),
    // Every master on a cluster (each returns only its own slots' keys).
    scanIterator: ({ MATCH, COUNT }: { MATCH: string; COUNT: number }) => scanKeys(redis, MATCH, COUNT),
  };
}

export function createSessionStore(redis: RedisClient, prefix: string, ttlSeconds: number): RedisStore {
  return new RedisStore({ client: nodeRedisFacade(redis), prefix, ttl: ttlSeconds });
}
