/** P7: POST /health/errors and /health/logs under 50 connections, and how far the events queue lags behind. */
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchResult, Size } from './lib.js';
import { benchPrefix, dropPrefixes, httpLoad, REDIS_URL, waitUntil } from './lib.js';
import { BENCH_ADMIN, startBenchCallguard } from './service.js';

async function bareIncr(size: Size): Promise<number> {
  const { prefix } = benchPrefix();
  const redis = new Redis(REDIS_URL);
  const app = express();
  app.post('/errors', express.json(), async (_req, res) => {
    await redis.incr(`${prefix}:c`);
    res.status(202).json({ ok: true });
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await httpLoad({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/errors`,
      method: 'POST',
      connections: size === 'full' ? 50 : 5,
      seconds: size === 'full' ? 5 : 1,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rule: 'twilio', count: 1 }),
    }).done;
    return r.rps;
  } finally {
    await new Promise((r) => server.close(r));
    redis.disconnect();
    await dropPrefixes(prefix);
  }
}

export async function p7(size: Size): Promise<BenchResult[]> {
  const base = await bareIncr(size);
  const svc = await startBenchCallguard(
    { twilio: { threshold_count: 1_000_000_000, window_minutes: 60, log_patterns: ['twilio call failed'] } },
    { CALLGUARD_MINUTE_SECONDS: '60' },
  );
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  try {
    const http = await svc.http();
    const headers = { authorization: `Bearer ${BENCH_ADMIN.secret}` };
    const ndjson = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ level: i % 10 === 0 ? 50 : 30, msg: i % 10 === 0 ? 'twilio call failed: 503' : 'call placed' }),
    ).join('\n');
    const out: BenchResult[] = [];
    for (const [path, contentType, body] of [
      ['/health/errors', 'application/json', JSON.stringify({ rule: 'twilio', count: 1 })],
      ['/health/logs', 'application/x-ndjson', ndjson],
    ] as const) {
      // Lag: how old the oldest waiting events job is, sampled while the load runs and after it stops.
      let maxLagMs = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [oldest] = await events.getWaiting(0, 0);
          if (oldest) maxLagMs = Math.max(maxLagMs, Date.now() - oldest.timestamp);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const r = await httpLoad({
        url: `${http.url}${path}`,
        method: 'POST',
        connections: size === 'full' ? 50 : 5,
        seconds: size === 'full' ? 5 : 1,
        headers: { ...headers, 'content-type': contentType },
        body,
      }).done;
      const stopped = performance.now();
      await waitUntil(async () => (await events.getWaitingCount()) + (await events.getActiveCount()) === 0, 60_000, 'events queue drained');
      const drainMs = performance.now() - stopped;
      sampling = false;
      await sampler;
      if (r.non2xx) throw new Error(`bench: ${path} answered ${r.non2xx} non-2xx`);
      const ratio = r.rps / base;
      out.push({
        id: path === '/health/errors' ? 'P7' : 'P7l',
        name: `POST ${path}${path === '/health/logs' ? ' (100-record NDJSON)' : ''}, 50 connections`,
        value: r.rps,
        unit: 'req/s',
        baseline: { value: base, unit: 'req/s', what: 'bare Express, one INCR per request' },
        ratio,
        target: '≥ 0.6×; lag ≤ 1 s',
        pass: ratio >= 0.6 && maxLagMs <= 1000 && drainMs <= 1000,
        detail: { maxLagMs, drainAfterMs: drainMs, p99: r.p99 },
      });
    }
    return out;
  } finally {
    await events.close();
    await svc.stop();
  }
}
