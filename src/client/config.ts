import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { hashTag, parseHostPort, type HostPort } from '../store/redis.js';

const queueName = z
  .string()
  .min(1)
  .regex(/^[^:\s]+$/, 'queue names may not contain ":" or spaces');

export const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * The variables the client reads, and nothing else: a host app's own LOG_LEVEL or PORT are none of
 * its business. The server's config (src/app/config.ts) extends these same definitions.
 */
export const clientEnvShape = {
  /** Redis connection URL (ignored when REDIS_CLUSTER_NODES is set). */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Redis Cluster seed nodes, comma list of host:port; set, every connection is a cluster client. */
  REDIS_CLUSTER_NODES: csv
    .transform((entries, ctx) =>
      entries.flatMap((e) => {
        try {
          return [parseHostPort(e)];
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return [];
        }
      }),
    )
    .default([]),
  /** Path of the rules file. */
  CALLGUARD_RULES: z.string().min(1).default('./rules.json'),
  /** Dispatch queues callguard pauses (comma list of BullMQ queue names). */
  CALLGUARD_QUEUES: csv.pipe(z.array(queueName).min(1, 'at least one queue')).default(['calls']),
  /** BullMQ prefix of callguard's own queues and keys; the braces are a Redis Cluster hash tag. */
  CALLGUARD_PREFIX: z.string().min(1).default('{callguard}'),
  /** Milliseconds the in-process reporter coalesces counts before flushing one job. */
  CALLGUARD_FLUSH_MS: z.coerce.number().int().min(10).max(10_000).default(250),
};

/** Reads `keys` of `shape` from `env` (empty counts as unset); a ConfigError names every bad variable. */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv): z.infer<z.ZodObject<S>> {
  const picked = Object.fromEntries(Object.keys(shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = z.object(shape).safeParse(picked);
  if (!parsed.success) {
    // Named, never echoed: a misplaced value may be a secret, and REDIS_URL may carry a password.
    const problems = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export interface ClientConfig {
  redisUrl: string;
  /** Empty: a single Redis at redisUrl. */
  clusterNodes: HostPort[];
  rulesPath: string;
  queues: string[];
  prefix: string;
  flushMs: number;
}

/** The client's settings from the environment, read when first needed rather than at import. */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const e = parseEnv(clientEnvShape, env);
  assertClusterPrefixes(e.REDIS_CLUSTER_NODES, { CALLGUARD_PREFIX: e.CALLGUARD_PREFIX });
  return {
    redisUrl: e.REDIS_URL,
    clusterNodes: e.REDIS_CLUSTER_NODES,
    rulesPath: e.CALLGUARD_RULES,
    queues: [...new Set(e.CALLGUARD_QUEUES)],
    prefix: e.CALLGUARD_PREFIX,
    flushMs: e.CALLGUARD_FLUSH_MS,
  };
}

/**
 * On a cluster a Lua script (BullMQ's or callguard's) may only touch keys of one slot; a prefix
 * with a hash tag puts all keys under it in one slot. Without one, start-up stops here, in one line.
 */
export function assertClusterPrefixes(clusterNodes: HostPort[], prefixes: Record<string, string>): void {
  if (!clusterNodes.length) return;
  for (const [name, value] of Object.entries(prefixes)) {
    if (hashTag(value) === undefined) {
      throw new ConfigError(
        `${name}=${value} has no hash tag, which Redis Cluster needs (REDIS_CLUSTER_NODES is set): ` +
          `each queue's keys must share one slot for BullMQ's scripts; use e.g. ${name}={${value.replace(/[{}]/g, '') || 'bull'}}`,
      );
    }
  }
}
