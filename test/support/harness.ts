import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/app/config.js';
import { createLogger } from '../../src/ops/logger.js';
import { deleteKeys } from '../../src/store/redis.js';
import { parseRules } from '../../src/domain/rules.js';
import { createCallguard, type Callguard } from '../../src/app/callguard.js';
import type { Rule } from '../../src/domain/types.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A config with its own prefixes so tests never see each other's keys; minute = 1 s. */
export function testConfig(env: Record<string, string> = {}): Config {
  const id = randomBytes(4).toString('hex');
  return loadConfig({
    REDIS_URL,
    CALLGUARD_PREFIX: `{cgtest-${id}}`,
    CALLGUARD_QUEUE_PREFIX: `cgtq-${id}`,
    CALLGUARD_MINUTE_SECONDS: '1',
    CALLGUARD_AUTO_RESUME_MINUTES: '2',
    CALLGUARD_FLUSH_MS: '20',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

export function testRules(json: Record<string, unknown>, queues: string[]): Rule[] {
  return parseRules(JSON.stringify(json), 'test-rules.json', queues).rules;
}

/** Deletes every key under the config's two prefixes (SCAN, never FLUSHDB). */
export async function cleanup(config: Config): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    for (const pattern of [`${config.prefix}:*`, `${config.queuePrefix}:*`]) await deleteKeys(redis, pattern);
  } finally {
    redis.disconnect();
  }
}

export async function startTestCallguard(rulesJson: Record<string, unknown>, env: Record<string, string> = {}, opts: { worker?: boolean } = {}): Promise<Callguard> {
  const config = testConfig(env);
  const cg = await createCallguard(config, testRules(rulesJson, config.queues), { logger: createLogger('silent') });
  if (opts.worker !== false) await cg.startWorker();
  return cg;
}

export async function stopTestCallguard(cg: Callguard | undefined): Promise<void> {
  if (!cg) return;
  await cg.stop({ graceMs: 3000 });
  await cleanup(cg.config);
}

export async function waitFor<T>(fn: () => Promise<T> | T, { timeoutMs = 10_000, intervalMs = 20 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
