import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '../domain/timeout.js';

const script = (file: string) => readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');

// Loaded once; ioredis sends EVALSHA and falls back to EVAL after a script flush.
const SCRIPTS = {
  cgRecord: { lua: script('record-n.lua') },
  cgSumCounts: { lua: script('sum-counts-n.lua') },
  cgChangeHolds: { numberOfKeys: 7, lua: script('change-holds-7.lua') },
};

export interface CallguardCommands {
  cgRecord(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  cgSumCounts(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  cgChangeHolds(k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, k7: string, request: string): Promise<string>;
}

export type CallguardRedis = Redis & CallguardCommands;

/**
 * One connection with callguard's scripts defined. `maxRetriesPerRequest: null` because BullMQ
 * workers share this factory and require it.
 */
export function connect(url: string, options: RedisOptions = {}): CallguardRedis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, ...options });
  return withScripts(redis);
}

export function withScripts(redis: Redis): CallguardRedis {
  for (const [name, def] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, def);
  }
  return redis as CallguardRedis;
}

/** Fails fast with one line naming the URL when Redis does not answer. */
export async function assertReachable(redis: Redis, url: string, timeoutMs = 3000): Promise<void> {
  try {
    await withTimeout(redis.ping(), timeoutMs, () => {
      throw new Error('timed out');
    });
  } catch (err) {
    throw new RedisUnreachableError(
      `Redis is not reachable at ${redactUrl(url)} (${(err as Error).message}). ` +
        `Start one with: redis-server --daemonize yes --port 6379, or set REDIS_URL.`,
    );
  }
}

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** Deletes every key matching the pattern with SCAN (never KEYS or FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
