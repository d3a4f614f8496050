import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
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

export async function startTestCallguard(
  rulesJson: Record<string, unknown>,
  env: Record<string, string> = {},
  opts: { worker?: boolean } = {},
): Promise<Callguard> {
  const config = testConfig(env);
  const cg = await createCallguard(config, testRules(rulesJson, config.queues), {
    logger: createLogger('silent'),
    // A second-shape file's providers travel with the rules version: its JSON as given.
    ...('providers' in rulesJson ? { rulesSeed: { content: rulesJson, file: 'test-rules.json' } } : {}),
  });
  if (opts.worker !== false) await cg.startWorker();
  return cg;
}

export async function stopTestCallguard(cg: Callguard | undefined): Promise<void> {
  if (!cg) return;
  await cg.stop({ graceMs: 3000 });
  await cleanup(cg.config);
}

export interface WaitOptions {
  /** Give up after this long; a deadline for a condition, never a reason to assert. */
  timeoutMs?: number;
  /** First pause between polls; it grows by half each time, up to 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

/** Polls `fn` until it returns something truthy (and returns that), or fails naming `what`. */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  { timeoutMs = 20_000, intervalMs = 10, what = 'condition' }: WaitOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let pause = intervalMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Truthy<T>;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await delay(Math.min(pause, left));
    pause = Math.min(pause * 1.5, 100);
  }
}
