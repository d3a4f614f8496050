import { RedisStore } from 'connect-redis';
import type { Redis } from 'ioredis';

/**
 * connect-redis 9 speaks node-redis' API; callguard runs on ioredis. This is the handful of
 * commands the store calls, translated, so sessions share callguard's connection and prefix.
 */
function nodeRedisFacade(redis: Redis) {
  return {
    get: (key: string) => redis.get(key),
    set: (key: string, value: string, opts?: { expiration?: { type: 'EX'; value: number } }) =>
      opts?.expiration ? redis.set(key, value, 'EX', opts.expiration.value) : redis.set(key, value),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    del: (keys: string | string[]) => redis.del(...[keys].flat()),
    mGet: (keys: string[]) => redis.mget(keys),
    async *scanIterator({ MATCH, COUNT }: { MATCH: string; COUNT: number }) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', MATCH, 'COUNT', COUNT);
        cursor = next;
        if (keys.length) yield keys;
      } while (cursor !== '0');
    },
  };
}

export function createSessionStore(redis: Redis, prefix: string, ttlSeconds: number): RedisStore {
  return new RedisStore({ client: nodeRedisFacade(redis), prefix, ttl: ttlSeconds });
}
