import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '../domain/timeout.js';
import { withScripts } from './scripts.js';

export { withScripts };

/** A single Redis or a Redis Cluster; every callguard key shares one hash tag, so either serves. */
export type RedisClient = Redis | Cluster;
/** A connection with callguard's scripts defined (see scripts.ts). */
export type CallguardRedis = RedisClient;

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is: `clusterNodes` (REDIS_CLUSTER_NODES) when set, else `redisUrl` (REDIS_URL). */
export interface RedisTarget {
  redisUrl: string;
  clusterNodes: HostPort[];
}

/**
 * The one place connections are made: an ioredis Cluster when cluster nodes are configured, else a
 * single Redis, with callguard's scripts defined. `maxRetriesPerRequest: null` by default because
 * BullMQ workers share this factory and require it (they duplicate it for their blocking commands).
 */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): CallguardRedis {
  const { retryStrategy, enableOfflineQueue, ...rest } = options;
  const redisOptions = { maxRetriesPerRequest: null, ...rest };
  const client = target.clusterNodes.length
    ? new Cluster(target.clusterNodes, {
        redisOptions,
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
        // A failover takes the cluster's node timeout; retry briskly meanwhile instead of failing.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 200,
        slotsRefreshTimeout: 2000,
        // No ready check: when it fails (cluster_state:fail, mid-failover) ioredis reconnects on its
        // own but never settles that connect()'s promise (redis/ioredis#741). BullMQ awaits it when
        // it resets a worker's blocking connection, so the worker stopped fetching jobs for good.
        // Commands sent meanwhile get CLUSTERDOWN and are retried (retryDelayOnClusterDown).
        enableReadyCheck: false,
      })
    : new Redis(target.redisUrl, {
        ...redisOptions,
        ...(retryStrategy ? { retryStrategy } : {}),
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      });
  return withScripts(client);
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** "host:port" → HostPort; throws with the entry named when it is not one. */
export function parseHostPort(entry: string): HostPort {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(entry.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`"${entry}" is not host:port`);
  return { host: m[1]!, port };
}

/**
 * The hash tag Redis Cluster hashes a key by: the text between the first "{" and the next "}",
 * when not empty. A prefix with one puts every key under it in the same slot.
 */
export function hashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

/** What start-up says about a Redis that does not answer. */
export type Unreachable = 'connection refused' | 'host not found' | 'timed out';

export function describeConnectError(err: unknown): Unreachable | undefined {
  const code = (err as { code?: unknown })?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return 'host not found';
  if (code === 'ETIMEDOUT') return 'timed out';
  return undefined;
}

/**
 * Fails fast with one line naming where Redis was expected and why it did not answer:
 * connection refused, host not found, or timed out (nothing answered within `timeoutMs`).
 */
export async function assertReachable(redis: RedisClient, target: RedisTarget | string, timeoutMs = 3000): Promise<void> {
  const t = typeof target === 'string' ? { redisUrl: target, clusterNodes: [] } : target;
  const where = t.clusterNodes.length
    ? `REDIS_CLUSTER_NODES=${t.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
    : redactUrl(t.redisUrl);
  let last: Unreachable | undefined;
  let other: string | undefined;
  const onError = (err: Error) => {
    // A cluster reports a summary error; the node's own error is its lastNodeError.
    const cause = (err as { lastNodeError?: Error }).lastNodeError ?? err;
    last = describeConnectError(cause) ?? last;
    if (!describeConnectError(cause)) other = cause.message;
  };
  redis.on('error', onError);
  try {
    await withTimeout(redis.ping(), timeoutMs, () => {
      throw new Error(last ?? (other ? `timed out; last error: ${other}` : 'timed out'));
    });
  } catch (err) {
    const how = last ?? describeConnectError(err) ?? (err as Error).message;
    throw new RedisUnreachableError(
      `Redis is not reachable at ${where} (${how}). ` +
        (t.clusterNodes.length
          ? 'Check REDIS_CLUSTER_NODES.'
          : `Start one with: redis-server --daemonize yes --port ${urlPort(t.redisUrl)}, or set REDIS_URL.`),
      how,
    );
  } finally {
    redis.off('error', onError);
  }
}

/** The port a redis:// URL names (6379 when it names none): the one a local redis-server should listen on. */
function urlPort(url: string): string {
  try {
    return new URL(url).port || '6379';
  } catch {
    return '6379';
  }
}

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
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

/**
 * Every key matching the pattern, by SCAN (never KEYS). On a cluster each master holds only its
 * own slots, so every master is scanned.
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 500): AsyncGenerator<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/** Deletes every key matching the pattern (never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  // One key per DEL: on a cluster the keys of one SCAN page may live in different slots.
  for await (const keys of scanKeys(redis, pattern)) {
    if (isCluster(redis)) for (const k of keys) deleted += await redis.del(k);
    else deleted += await redis.del(...keys);
  }
  return deleted;
}

// Replies and client errors that mean "Redis cannot serve right now", not "the request was wrong".
const UNAVAILABLE =
  /^(CLUSTERDOWN|LOADING|READONLY|TRYAGAIN|MASTERDOWN|BUSY|NOSCRIPT)\b|Connection is closed|enableOfflineQueue|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/;

/**
 * True for any failure on Redis' side of a request (a reply error included: whatever Redis refused,
 * the request could not be carried out, and a 500 would blame the client's input or our code).
 */
export function isRedisFailure(err: unknown): boolean {
  return isRedisUnavailable(err) || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ReplyError');
}

/** True for errors that a later retry against a healthy Redis would not get. */
export function isRedisUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  if (describeConnectError(err)) return true;
  return typeof e.message === 'string' && UNAVAILABLE.test(e.message);
}
