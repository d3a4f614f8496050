/**
 * P13: memory. The RSS of `npm start` (its HTTP thread and health thread) and Redis' used_memory
 * at 10,000 rules × 60-minute windows (every minute counted) and 1,000 holds, on a private
 * redis-server, against the same service at 10 rules and no holds. With `--soak[=minutes]`
 * (default 20) also a mixed soak: errors, log batches and status reads from other processes and a
 * trip and resume every 10 s, sampling RSS, used_memory and the key count; after a warm-up
 * (the first quarter) the slopes should be flat and the keys bounded.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { Keys } from '../src/store/keys.js';
import type { BenchResult, Size } from './lib.js';
import { benchPrefix, httpLoad, median } from './lib.js';
import { startServiceProcesses, type ServiceProcesses } from './processes.js';
import { startRedisServer } from './service.js';

const MB = 1024 * 1024;

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

async function redisMemory(redis: Redis): Promise<{ used: number; keys: number }> {
  const info = await redis.info('memory');
  return { used: Number(/used_memory:(\d+)/.exec(info)?.[1]), keys: await redis.dbsize() };
}

function rulesJson(n: number): Record<string, unknown> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `rule${i}`,
      { threshold_count: 1_000_000_000, window_minutes: 60, log_patterns: [`provider ${i} call failed`] },
    ]),
  );
}

async function post(svc: ServiceProcesses, path: string, body: unknown): Promise<void> {
  const r = await fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { ...svc.auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (r.status >= 300) throw new Error(`bench: ${path} answered ${r.status}: ${await r.text()}`);
}

/** The service at `rules` rules, every minute of each window counted, and `holds` manual holds; memory once it has read it all. */
async function atScale(url: string, size: Size, rules: number, holds: number) {
  const admin = new Redis(url);
  const prefixes = benchPrefix();
  const keys = new Keys(prefixes.prefix);
  const json = rulesJson(rules);
  // Counted before the service starts: its first full evaluation reads every window.
  const [seconds] = await admin.time();
  const minute = Math.floor(Number(seconds) / 60);
  for (let i = 0; i < rules; i += 500) {
    const pipe = admin.pipeline();
    for (let r = i; r < Math.min(rules, i + 500); r++) {
      const fields: Record<string, number> = {};
      for (let m = 0; m < 60; m++) fields[String(minute - m)] = 1;
      pipe.hset(keys.counts(`rule${r}`), fields);
    }
    await pipe.exec();
  }
  const svc = await startServiceProcesses(json, { size, prefixes, env: { REDIS_URL: url } });
  try {
    for (let i = 0; i < holds; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, holds - i) }, (_, k) => post(svc, '/health/pause', { reason: `maintenance ${i + k}` })),
      );
    }
    // Everything the service reads, read a few times: status, metrics, a resume's audit.
    for (let i = 0; i < 3; i++) {
      await (await fetch(`${svc.url}/health/service`, { headers: svc.auth })).text();
      await (await fetch(`${svc.url}/metrics`, { headers: svc.auth })).text();
    }
    const rss = rssBytes(svc.pids[0]!);
    const redis = await redisMemory(admin);
    return { rss, ...redis };
  } finally {
    await svc.stop();
    admin.disconnect();
  }
}

/** Least-squares slope of ys over xs, per unit of x. */
function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

async function soak(url: string, size: Size, minutes: number): Promise<BenchResult> {
  const admin = new Redis(url);
  const svc = await startServiceProcesses(
    {
      twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio call failed'] },
      ...rulesJson(100),
    },
    { size, env: { REDIS_URL: url } },
  );
  const seconds = Math.round(minutes * 60);
  const ndjson = Array.from({ length: 100 }, (_, i) =>
    JSON.stringify({ level: i % 10 === 0 ? 50 : 30, msg: i % 10 === 0 ? `provider ${i} call failed: 503` : 'call placed' }),
  ).join('\n');
  const headers = svc.auth;
  const loads = [
    httpLoad({
      url: `${svc.url}/health/errors`,
      connections: 10,
      seconds,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify([
        { rule: 'rule1', count: 1 },
        { rule: 'rule2', count: 2 },
      ]),
    }),
    httpLoad({
      url: `${svc.url}/health/logs`,
      connections: 5,
      seconds,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      body: ndjson,
    }),
    httpLoad({ url: `${svc.url}/health/service`, connections: 5, seconds, headers }),
  ];
  const events = new Queue('events', { connection: admin, prefix: svc.prefix });
  const samples: Array<{ t: number; rss: number; used: number; keys: number }> = [];
  const started = performance.now();
  let trips = 0;
  try {
    const sampleEvery = Math.max(1000, (seconds * 1000) / 120);
    let nextSample = 0;
    let nextTrip = 0;
    while (performance.now() - started < seconds * 1000) {
      const t = performance.now() - started;
      if (t >= nextTrip) {
        // A trip and a resume: holds, audit entries, notifications, parked state come and go.
        await events.add('error-report', { counts: { twilio: 10 } });
        await new Promise((r) => setTimeout(r, 500));
        await post(svc, '/health/resume', {});
        trips++;
        nextTrip = t + 10_000;
      }
      if (t >= nextSample) {
        samples.push({ t: t / 60_000, rss: rssBytes(svc.pids[0]!), ...(await redisMemory(admin)) });
        nextSample = t + sampleEvery;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await Promise.all(loads.map((l) => l.done));
  } finally {
    for (const l of loads) l.stop();
    await events.close();
    await svc.stop();
    admin.disconnect();
  }
  const settled = samples.slice(Math.floor(samples.length / 4));
  const ts = settled.map((s) => s.t);
  const rssSlope = slope(
    ts,
    settled.map((s) => s.rss / MB),
  );
  const usedSlope = slope(
    ts,
    settled.map((s) => s.used / MB),
  );
  const half = Math.floor(settled.length / 2);
  const keysEarly = Math.max(...settled.slice(0, half).map((s) => s.keys));
  const keysLate = Math.max(...settled.slice(half).map((s) => s.keys));
  const rssMB = median(settled.map((s) => s.rss / MB));
  // Flat: under 1 % of the settled RSS per minute; keys bounded: the late maximum within 10 % of the early one.
  const pass = rssSlope <= rssMB * 0.01 && keysLate <= keysEarly * 1.1 + 50;
  return {
    id: 'P13s',
    name: `${minutes}-minute mixed soak (errors, log batches, status reads, a trip every 10 s), npm start`,
    value: rssSlope,
    unit: 'MB/min RSS slope',
    target: 'RSS slope ≤ 1 %/min after warm-up; keys bounded',
    pass,
    detail: {
      rssMB,
      redisUsedSlopeMBPerMin: usedSlope,
      redisUsedMB: median(settled.map((s) => s.used / MB)),
      keysEarlyMax: keysEarly,
      keysLateMax: keysLate,
      trips,
      samples: samples.length,
    },
  };
}

function soakMinutes(): number | undefined {
  const arg = process.argv.find((a) => a === '--soak' || a.startsWith('--soak='));
  if (!arg) return undefined;
  return arg === '--soak' ? 20 : Number(arg.slice(7));
}

export async function p13(size: Size): Promise<BenchResult[]> {
  const server = await startRedisServer();
  try {
    const [rules, holds] = size === 'full' ? [10_000, 1000] : [100, 10];
    const base = await atScale(server.url, size, 10, 0);
    const big = await atScale(server.url, size, rules, holds);
    const out: BenchResult[] = [
      {
        id: 'P13',
        name: `npm start RSS at ${rules} rules × 60-minute windows and ${holds} holds`,
        value: big.rss / MB,
        unit: 'MB',
        baseline: { value: base.rss / MB, unit: 'MB', what: '10 rules, no holds' },
        ratio: big.rss / base.rss,
      },
      {
        id: 'P13r',
        name: `Redis used_memory at ${rules} rules × 60-minute windows and ${holds} holds`,
        value: big.used / MB,
        unit: 'MB',
        baseline: { value: base.used / MB, unit: 'MB', what: '10 rules, no holds' },
        ratio: big.used / base.used,
        detail: { keys: big.keys, baseKeys: base.keys, bytesPerRuleMinute: (big.used - base.used) / (rules * 60) },
      },
    ];
    const minutes = soakMinutes();
    if (minutes) out.push(await soak(server.url, size, minutes));
    return out;
  } finally {
    await server.stop();
  }
}
