/** What every benchmark shares: sizes, a private prefix, result lines and bench/results.json. */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { deleteKeys } from '../src/store/redis.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `smoke` runs every benchmark with tiny sizes (npm test does, so they cannot rot). */
export type Size = 'full' | 'smoke';

export interface BenchResult {
  id: string;
  name: string;
  /** The measured figure and its unit, e.g. 12.3 "ms p99". */
  value: number;
  unit: string;
  /** The same thing done the plain way in the same run, when there is one. */
  baseline?: { value: number; unit: string; what: string };
  /** value / baseline (or baseline / value when lower is better), as the target reads it. */
  ratio?: number;
  target?: string;
  pass?: boolean;
  /** Anything else worth reading (percentiles, counts). */
  detail?: Record<string, number | string>;
}

export function benchPrefix(): { prefix: string; queuePrefix: string } {
  const id = randomBytes(3).toString('hex');
  return { prefix: `{cgbench-${id}}`, queuePrefix: `cgbq-${id}` };
}

export async function dropPrefixes(...prefixes: string[]): Promise<void> {
  // A first argument that is a URL names the Redis (default REDIS_URL).
  const url = prefixes[0]?.startsWith('redis://') ? prefixes.shift()! : REDIS_URL;
  const redis = new Redis(url);
  try {
    for (const p of prefixes) await deleteKeys(redis, `${p}:*`);
  } finally {
    redis.disconnect();
  }
}

/** An ioredis connection that counts the commands it sends. */
export function countingRedis(): Redis & { commands: number } {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null }) as Redis & { commands: number };
  redis.commands = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (cmd: Parameters<Redis['sendCommand']>[0]) => {
    redis.commands += 1;
    return send(cmd);
  };
  return redis;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let interval = 1;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`bench: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 2, 20);
  }
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

export function line(r: BenchResult): string {
  const base = r.baseline ? `baseline ${fmt(r.baseline.value)} ${r.baseline.unit} (${r.baseline.what})` : 'baseline —';
  const ratio = r.ratio !== undefined ? `${fmt(r.ratio)}×` : '—';
  const verdict = r.pass === undefined ? 'report' : r.pass ? 'PASS' : 'FAIL';
  const detail = r.detail
    ? `  [${Object.entries(r.detail)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`)
        .join(', ')}]`
    : '';
  return `${r.id.padEnd(4)} ${r.name}: ${fmt(r.value)} ${r.unit} | ${base} | ratio ${ratio} | target ${r.target ?? '—'} | ${verdict}${detail}`;
}

export interface LoadResult {
  rps: number;
  p99: number;
  /** Requests answered 2xx. */
  ok: number;
  non2xx: number;
  errors: number;
}

/**
 * HTTP load from a separate process (autocannon, bench/load-child.mjs), so the load generator does not share the
 * event loop of the server it measures. `stop()` ends an open-ended load early.
 */
export function httpLoad(opts: {
  url: string;
  connections: number;
  seconds: number;
  /** Send exactly this many requests instead (every one is answered before the load ends). */
  amount?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}): {
  done: Promise<LoadResult>;
  stop(): void;
} {
  const args = [
    new URL('./load-child.mjs', import.meta.url).pathname,
    JSON.stringify({
      url: opts.url,
      connections: opts.connections,
      ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds }),
      ...(opts.method ? { method: opts.method } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
    }),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<LoadResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => {
      try {
        const r = JSON.parse(out) as {
          requests: { average: number };
          latency: { p99: number };
          non2xx: number;
          errors: number;
          '2xx': number;
        };
        resolve({ rps: r.requests.average, p99: r.latency.p99, ok: r['2xx'], non2xx: r.non2xx, errors: r.errors });
      } catch {
        resolve({ rps: NaN, p99: NaN, ok: NaN, non2xx: 0, errors: 0 });
      }
    });
  });
  return { done, stop: () => child.kill('SIGINT') };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
