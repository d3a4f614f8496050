/** A callguard for a benchmark: its own prefixes (or its own redis-server), the real service, cleaned up after. */
import { httpDeps } from '../src/app/http-deps.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { loadConfig, type Config } from '../src/app/config.js';
import { parseRules } from '../src/domain/rules.js';
import type { Rule } from '../src/domain/types.js';
import { startHttpServer, type HttpServer } from '../src/http/server.js';
import { createLogger } from '../src/ops/logger.js';
import type { CallguardRedis } from '../src/store/redis.js';
import { benchPrefix, dropPrefixes, REDIS_URL } from './lib.js';

export const BENCH_ADMIN = { name: 'bench', secret: 'bench-secret-0123456789abcdef0123456789' };

export interface BenchCallguard {
  cg: Callguard;
  config: Config;
  rules: Rule[];
  /** The service's own Redis connection (for queues a benchmark opens next to it). */
  connection(): CallguardRedis;
  /** The rule's count over its window, as the evaluator reads it. */
  counted(rule: Rule): Promise<number>;
  http(): Promise<HttpServer>;
  stop(): Promise<void>;
}

export async function startBenchCallguard(
  rulesJson: Record<string, unknown>,
  env: Record<string, string> = {},
  opts: { worker?: boolean } = {},
): Promise<BenchCallguard> {
  const { prefix, queuePrefix } = benchPrefix();
  const config = loadConfig({
    REDIS_URL,
    CALLGUARD_PREFIX: prefix,
    CALLGUARD_QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'silent',
    CALLGUARD_USERS: `${BENCH_ADMIN.name}:admin:${BENCH_ADMIN.secret}`,
    ...env,
  });
  const rules = parseRules(JSON.stringify(rulesJson), 'bench-rules.json', config.queues).rules;
  const cg = await createCallguard(config, rules, {
    logger: createLogger('silent'),
    // A second-shape file's providers (capacities) travel with the rules version: its JSON as given.
    ...('providers' in rulesJson ? { rulesSeed: { content: rulesJson, file: 'bench-rules.json' } } : {}),
  });
  if (opts.worker !== false) await cg.startWorker();
  let server: HttpServer | undefined;
  return {
    cg,
    config,
    rules,
    connection: () => cg.redis,
    counted: async (rule) => (await cg.counters.sums([rule])).counts[rule.name] ?? 0,
    async http() {
      server ??= await startHttpServer(httpDeps(cg), { port: 0, host: '127.0.0.1' });
      return server;
    },
    async stop() {
      await server?.close(1000);
      await cg.stop({ graceMs: 2000 });
      await dropPrefixes(config.prefix, config.queuePrefix);
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A private redis-server (no persistence) for benchmarks that read SLOWLOG or count every command. */
export async function startRedisServer(): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  // Commands wait in ioredis' offline queue until the server accepts connections.
  const probe = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  const timer = setTimeout(() => probe.disconnect(), 10_000);
  await probe.ping().finally(() => clearTimeout(timer));
  probe.disconnect();
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
