import { createHash } from 'node:crypto';
import { RedisStore } from 'rate-limit-redis';
import type { Keys } from '../../store/keys.js';
import type { CallguardRedis } from '../../store/redis.js';

const isNoScript = (err: unknown) => err instanceof Error && /^NOSCRIPT\b/.test(err.message);

/**
 * An express-rate-limit store in callguard's Redis, under its prefix: counts are shared by every
 * instance and survive restarts, so neither a second replica nor a restart resets a limit.
 *
 * Its scripts run by key, never through a key-less `SCRIPT LOAD`: on a cluster that goes to a
 * random master (not the one owning the `{callguard}` slot), and a promoted replica starts with no
 * scripts. So `SCRIPT LOAD` is answered here (the SHA1 of the source, no Redis call), and each
 * `EVALSHA` goes to the node owning its key, with EVAL of the source when that node answers
 * NOSCRIPT — the same as ioredis' defineCommand.
 */
export function redisLimitStore(redis: CallguardRedis, keys: Keys, limiter: string): RedisStore {
  const sources = new Map<string, string>();
  return new RedisStore({
    prefix: keys.rateLimitPrefix(limiter),
    sendCommandCluster: async ({ command }) => {
      const [name, ...args] = command as [string, ...string[]];
      const verb = name.toUpperCase();
      if (verb === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
        const sha = createHash('sha1').update(args[1]).digest('hex');
        sources.set(sha, args[1]);
        return sha;
      }
      if (verb === 'EVALSHA') {
        const [sha, ...rest] = args as [string, ...string[]];
        const source = sources.get(sha);
        try {
          return (await redis.evalsha(sha, ...(rest as [string]))) as number | string;
        } catch (err) {
          if (!isNoScript(err) || source === undefined) throw err;
          return (await redis.eval(source, ...(rest as [string]))) as number | string;
        }
      }
      return (await redis.call(name, ...args)) as number | string;
    },
  });
}
