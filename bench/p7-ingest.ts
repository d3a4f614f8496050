/**
 * P7: POST /health/errors and /health/logs under 50 connections against a bare Express route doing
 * one INCR, alternating (ABAB) with medians; how far the events queue lags behind; and that every
 * accepted count is counted (202s × counts per request = the rule's window sum afterwards).
 * callguard as users run it: `npm start` in its own process (its health thread runs the events
 * worker), the bare route in this one, the load from a third.
 */
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchResult, Size } from './lib.js';
import { parseRules } from '../src/domain/rules.js';
import { Counters } from '../src/store/counters.js';
import { Keys } from '../src/store/keys.js';
import { withScripts } from '../src/store/redis.js';
import { benchPrefix, dropPrefixes, httpLoad, median, REDIS_URL, waitUntil } from './lib.js';
import { startServiceProcesses } from './processes.js';

const RULES = { twilio: { threshold_count: 1_000_000_000, window_minutes: 60, log_patterns: ['twilio call failed'] } };

async function bareIncr(): Promise<{ url: string; close(): Promise<void> }> {
  const { prefix } = benchPrefix();
  const redis = new Redis(REDIS_URL);
  const app = express();
  app.post('/errors', express.json(), async (_req, res) => {
    await redis.incr(`${prefix}:c`);
    res.status(202).json({ ok: true });
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/errors`,
    async close() {
      await new Promise((r) => server.close(r));
      redis.disconnect();
      await dropPrefixes(prefix);
    },
  };
}

export async function p7(size: Size): Promise<BenchResult[]> {
  const rounds = size === 'full' ? 3 : 1;
  const seconds = size === 'full' ? 5 : 1;
  const connections = size === 'full' ? 50 : 5;
  const bare = await bareIncr();
  const svc = await startServiceProcesses(RULES, { size, env: { CALLGUARD_MINUTE_SECONDS: '60' } });
  const redis = withScripts(new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
  const events = new Queue('events', { connection: redis, prefix: svc.prefix });
  const rule = parseRules(JSON.stringify(RULES), 'bench-rules.json', svc.queues).rules[0]!;
  const counters = new Counters(redis, new Keys(svc.prefix), [rule], 60_000);
  const counted = async () => (await counters.sums()).counts[rule.name] ?? 0;
  try {
    const http = { url: svc.url };
    const headers = svc.auth;
    const ndjson = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ level: i % 10 === 0 ? 50 : 30, msg: i % 10 === 0 ? 'twilio call failed: 503' : 'call placed' }),
    ).join('\n');
    const bareLoad = () =>
      httpLoad({
        url: bare.url,
        method: 'POST',
        connections,
        seconds,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rule: 'twilio', count: 1 }),
      }).done;
    const out: BenchResult[] = [];
    for (const [path, contentType, body, perRequest] of [
      ['/health/errors', 'application/json', JSON.stringify({ rule: 'twilio', count: 1 }), 1],
      ['/health/logs', 'application/x-ndjson', ndjson, 10],
    ] as const) {
      // Lag: how old the oldest waiting events job is, sampled while the load runs and after it stops.
      let maxLagMs = 0;
      let drainMs = 0;
      const bases: number[] = [];
      const runs: Array<{ rps: number; p99: number }> = [];
      for (let i = 0; i < rounds; i++) {
        bases.push((await bareLoad()).rps);
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            const [oldest] = await events.getWaiting(0, 0);
            // A scheduled job (the evaluator's tick) is due at timestamp + delay, not when it was made.
            if (oldest) maxLagMs = Math.max(maxLagMs, Date.now() - oldest.timestamp - (oldest.delay ?? 0));
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        const r = await httpLoad({
          url: `${http.url}${path}`,
          method: 'POST',
          connections,
          seconds,
          headers: { ...headers, 'content-type': contentType },
          body,
        }).done;
        const stopped = performance.now();
        await waitUntil(
          async () => (await events.getWaitingCount()) + (await events.getActiveCount()) === 0,
          60_000,
          'events queue drained',
        );
        drainMs = Math.max(drainMs, performance.now() - stopped);
        sampling = false;
        await sampler;
        if (r.non2xx) throw new Error(`bench: ${path} answered ${r.non2xx} non-2xx`);
        runs.push(r);
      }
      // Exactly once: a fixed number of requests (a timed load's last answers are not in its
      // figures), then every count a 202 accepted is in the rule's window, and nothing more.
      const before = await counted();
      const exact = await httpLoad({
        url: `${http.url}${path}`,
        method: 'POST',
        connections,
        seconds,
        amount: size === 'full' ? 2000 : 50,
        headers: { ...headers, 'content-type': contentType },
        body,
      }).done;
      if (exact.non2xx) throw new Error(`bench: ${path} answered ${exact.non2xx} non-2xx`);
      const accepted = exact.ok * perRequest;
      await waitUntil(async () => (await events.getWaitingCount()) + (await events.getActiveCount()) === 0, 60_000, 'events queue drained');
      const counts = (await counted()) - before;
      const ratios = runs.map((r, i) => r.rps / bases[i]!);
      const ratio = median(ratios);
      const target = path === '/health/errors' ? 0.8 : 0.6;
      out.push({
        id: path === '/health/errors' ? 'P7' : 'P7l',
        name: `POST ${path}${path === '/health/logs' ? ' (100-record NDJSON)' : ''}, ${connections} connections, ${rounds} alternating rounds`,
        value: median(runs.map((r) => r.rps)),
        unit: 'req/s',
        baseline: { value: median(bases), unit: 'req/s', what: 'bare Express, one INCR per request' },
        ratio,
        target: `≥ ${target}×; lag ≤ 1 s; accepted = counted`,
        pass: ratio >= target && maxLagMs <= 1000 && drainMs <= 1000 && counts === accepted,
        detail: {
          maxLagMs,
          drainAfterMs: drainMs,
          p99: median(runs.map((r) => r.p99)),
          ratios: ratios.map((r) => r.toFixed(2)).join('/'),
          accepted,
          counted: counts,
        },
      });
    }
    return out;
  } finally {
    await events.close();
    await svc.stop();
    redis.disconnect();
    await bare.close();
  }
}
