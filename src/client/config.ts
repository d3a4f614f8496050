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
 * One environment variable, declared once: its name (the key it is declared under), the config
 * field it becomes, its parser (the raw text in, the field's value out), the default as text (as
 * it would be set) and its documentation (docs/configuration.md is generated from these).
 */
export interface EnvVar<K extends string = string, P extends z.ZodType = z.ZodType> {
  readonly key: K;
  readonly parser: P;
  /** Used when unset or empty; without one the field is undefined then. */
  readonly default?: string;
  /** What the documentation says for the default when there is none: *(unset)*, *(random)* … */
  readonly unset?: string;
  readonly doc: string;
}
export const envVar = <const V extends EnvVar>(v: V): V => v;

type Field<D extends Record<string, EnvVar>, N extends keyof D> = D[N] extends { default: string }
  ? z.output<D[N]['parser']>
  : z.output<D[N]['parser']> | undefined;
type GroupOf<D extends Record<string, EnvVar>> = { [N in keyof D]: D[N]['key'] extends `${infer G}.${string}` ? G : never }[keyof D];

/** The config fields of some declarations, typed by their parsers; a key "group.field" lands in config.group.field. */
export type ConfigOf<D extends Record<string, EnvVar>> = {
  -readonly [N in keyof D as D[N]['key'] extends `${string}.${string}` ? never : D[N]['key']]: Field<D, N>;
} & {
  -readonly [G in GroupOf<D>]: { -readonly [N in keyof D as D[N]['key'] extends `${G}.${infer F}` ? F : never]: Field<D, N> };
};

const redisClusterNodes = csv.transform((entries, ctx) =>
  entries.flatMap((e) => {
    try {
      return [parseHostPort(e)];
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return [];
    }
  }),
);

/**
 * The variables the client reads, and nothing else: a host app's own LOG_LEVEL or PORT are none of
 * its business. The server's config (src/app/config.ts) extends these same declarations.
 */
export const CLIENT_ENV = {
  REDIS_URL: envVar({
    key: 'redisUrl',
    parser: z.string().url(),
    default: 'redis://127.0.0.1:6379',
    doc: 'Redis connection URL (ignored when `REDIS_CLUSTER_NODES` is set)',
  }),
  REDIS_CLUSTER_NODES: envVar({
    key: 'clusterNodes',
    parser: redisClusterNodes,
    default: '',
    unset: '*(empty)*',
    doc: 'Redis Cluster seed nodes, `host:port` comma list; set, every connection is a cluster client ([Running on Redis Cluster](deploy.md#running-on-redis-cluster))',
  }),
  CALLGUARD_RULES: envVar({ key: 'rulesPath', parser: z.string().min(1), default: './rules.json', doc: 'rules file' }),
  CALLGUARD_QUEUES: envVar({
    key: 'queues',
    parser: csv.pipe(z.array(queueName).min(1, 'at least one queue')).transform((queues) => [...new Set(queues)]),
    default: 'calls',
    doc: 'dispatch queues callguard pauses (comma list of BullMQ queue names)',
  }),
  CALLGUARD_PREFIX: envVar({
    key: 'prefix',
    parser: z.string().min(1),
    default: '{callguard}',
    doc: "prefix of callguard's own queues and keys; the braces are a Redis Cluster hash tag",
  }),
  CALLGUARD_FLUSH_MS: envVar({
    key: 'flushMs',
    parser: z.coerce.number().int().min(10).max(10_000),
    default: '250',
    doc: 'how long the in-process reporter coalesces counts before sending one job',
  }),
};

/** Reads the declared variables from `env` (empty counts as unset); a ConfigError names every bad variable. */
export function parseEnv<D extends Record<string, EnvVar>>(declared: D, env: NodeJS.ProcessEnv): ConfigOf<D> {
  const entries = Object.entries(declared);
  const shape = Object.fromEntries(entries.map(([name, v]) => [name, v.default === undefined ? v.parser.optional() : v.parser]));
  const picked = Object.fromEntries(
    entries.map(([name, v]) => [name, env[name] === '' || env[name] === undefined ? v.default : env[name]]),
  );
  const parsed = z.object(shape).safeParse(picked);
  if (!parsed.success) {
    // Named, never echoed: a misplaced value may be a secret, and REDIS_URL may carry a password.
    const problems = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const values = parsed.data as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const [name, { key }] of entries) {
    const [group, field] = key.split('.');
    if (field === undefined) config[key] = values[name];
    else ((config[group!] ??= {}) as Record<string, unknown>)[field] = values[name];
  }
  return config as ConfigOf<D>;
}

export type ClientConfig = ConfigOf<typeof CLIENT_ENV>;

/** The client's settings from the environment, read when first needed rather than at import. */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const config = parseEnv(CLIENT_ENV, env);
  assertClusterPrefixes(config.clusterNodes, { CALLGUARD_PREFIX: config.prefix });
  return config;
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
