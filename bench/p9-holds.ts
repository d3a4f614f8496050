/**
 * P9: an admin resume-all at 10,000 alert holds. The longest single script call (SLOWLOG on a
 * private redis-server) and the longest PING another client waits meanwhile: the Redis that keeps
 * the holds also serves the dispatch queues, so no call may block it for long.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Callguard } from '../src/app/callguard.js';
import type { NewHold } from '../src/domain/hold.js';
import type { BenchResult, Size } from './lib.js';
import { startBenchCallguard, startRedisServer } from './service.js';

/** PINGs every 2 ms until stdin closes, then prints the longest round trip (ms) and the count. */
const PINGER = `
const { Redis } = require('ioredis');
const [host, port] = process.argv.slice(1);
const redis = new Redis(Number(port), host);
let stop = false, max = 0, pings = 0;
process.stdin.on('end', () => (stop = true)).resume();
redis.ping().then(async () => {
  process.stdout.write('ready\\n');
  while (!stop) {
    const t = performance.now();
    await redis.ping();
    max = Math.max(max, performance.now() - t);
    pings++;
    await new Promise((r) => setTimeout(r, 2));
  }
  redis.disconnect();
  process.stdout.write(JSON.stringify({ max, pings }) + '\\n');
});
`;

export interface ResumeAllFigures {
  holds: number;
  /** Longest EVAL/EVALSHA during the resume-all, in ms (SLOWLOG). */
  longestScriptMs: number;
  /** The hold-change script's own calls during the resume-all: how many, median and longest ms. */
  holdScriptMs: { calls: number; median: number; max: number };
  /** Longest command of any kind meanwhile, and its name. */
  longestCommandMs: number;
  longestCommand: string;
  /** Longest PING round trip seen by a second connection pinging every 2 ms. */
  maxPingMs: number;
  pings: number;
  /** Holds released per hold-change step: the most in one step, and how many steps. */
  maxHoldsPerStep: number;
  steps: number;
  resumeMs: number;
}

/**
 * Places `n` alert holds straight through the ledger (in bounded batches; `cg` needs a cap above
 * `n`), then resumes all through Control as an admin would. `admin` must reach the same private
 * Redis: it turns on SLOWLOG for every command.
 */
export async function measureResumeAll(cg: Callguard, admin: Redis, n: number): Promise<ResumeAllFigures> {
  for (let i = 0; i < n; i += 1000) {
    const add: NewHold[] = Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
      id: `alert:bench:${i + j}`,
      kind: 'alert',
      scope: (i + j) % 2 ? 'all' : [cg.config.queues[0]!],
      by: 'bench',
      reason: `alert ${i + j} firing`,
      source: 'bench',
      alertName: 'Flood',
    }));
    await cg.ledger.change({ add });
  }
  const steps: number[] = [];
  const off = cg.emitter.on('changes', (changes) => void steps.push(changes.length), 'bench steps');
  await admin.config('SET', 'slowlog-log-slower-than', '0');
  await admin.config('SET', 'slowlog-max-len', '1000000');
  await admin.slowlog('RESET');

  // In its own process, so the PINGs measure Redis, not this process' busy event loop.
  const pinger = spawn(process.execPath, ['-e', PINGER, admin.options.host ?? '127.0.0.1', String(admin.options.port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const report = new Promise<{ max: number; pings: number }>((resolve) => {
    let out = '';
    pinger.stdout.on('data', (d) => (out += d));
    pinger.on('exit', () => resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { max: number; pings: number }));
  });
  await new Promise((resolve) => pinger.stdout.once('data', resolve)); // 'ready'
  const started = performance.now();
  await cg.control.resume({ by: 'bench' });
  const resumeMs = performance.now() - started;
  pinger.stdin.end();
  const pinged = await report;
  off();

  const log = (await admin.slowlog('GET', -1)) as Array<[number, number, number, string[]]>;
  await admin.config('SET', 'slowlog-log-slower-than', '10000');
  const scripts = log.filter((e) => /^eval/i.test(e[3][0] ?? ''));
  // The hold-change script: its first key is the holds hash.
  const ours = scripts
    .filter((e) => e[3][3] === cg.keys.holds)
    .map((e) => e[2] / 1000)
    .sort((a, b) => a - b);
  const longest = log.reduce((a, e) => (e[2] > a[2] ? e : a), [0, 0, 0, ['']] as [number, number, number, string[]]);
  return {
    holds: n,
    longestScriptMs: Math.max(0, ...scripts.map((e) => e[2])) / 1000,
    holdScriptMs: { calls: ours.length, median: ours[ours.length >> 1] ?? 0, max: ours.at(-1) ?? 0 },
    longestCommandMs: longest[2] / 1000,
    longestCommand: longest[3][0] ?? '',
    maxPingMs: pinged.max,
    pings: pinged.pings,
    maxHoldsPerStep: Math.max(0, ...steps),
    steps: steps.length,
    resumeMs,
  };
}

export async function p9(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 10_000 : 500;
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const svc = await startBenchCallguard({}, { REDIS_URL: server.url, CALLGUARD_MAX_ALERT_HOLDS: String(n + 1) }, { worker: false });
  try {
    const f = await measureResumeAll(svc.cg, admin, n);
    const detail = {
      holdScriptCalls: f.holdScriptMs.calls,
      holdScriptMedianMs: f.holdScriptMs.median,
      holdsPerStep: f.maxHoldsPerStep,
      steps: f.steps,
      longestAnyScriptMs: f.longestScriptMs,
      longestCommand: `${f.longestCommand} ${f.longestCommandMs} ms`,
      maxPingMs: +f.maxPingMs.toFixed(1),
      pings: f.pings,
      resumeMs: Math.round(f.resumeMs),
    };
    const value = f.holdScriptMs.max;
    return [
      {
        id: 'P9',
        name: `resume-all at ${n} alert holds: longest hold-change script call`,
        value,
        unit: 'ms',
        target: '≤ 20 ms',
        pass: value <= 20,
        detail,
      },
    ];
  } finally {
    await svc.stop();
    admin.disconnect();
    await server.stop();
  }
}
