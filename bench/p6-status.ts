/**
 * P6: GET /health/service under 50 connections vs a bare Express route serving the same JSON,
 * alternating, medians; callguard as users run it (`npm start` in its own process, whose health
 * thread makes the snapshot's Redis reads).
 */
import express from 'express';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpLoad, median, type BenchResult, type Size } from './lib.js';
import { startServiceProcesses } from './processes.js';

async function load(url: string, size: Size, headers: Record<string, string> = {}) {
  const r = await httpLoad({ url, connections: size === 'full' ? 50 : 5, seconds: size === 'full' ? 5 : 1, headers }).done;
  if (r.non2xx || r.errors) throw new Error(`bench: ${url} answered ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r;
}

export async function p6(size: Size): Promise<BenchResult[]> {
  const json = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [
      `provider${i}`,
      { threshold_count: 1000, window_minutes: 5, log_patterns: [`provider ${i} call failed`] },
    ]),
  );
  const svc = await startServiceProcesses(json, { size });
  const bare = express();
  let server: ReturnType<typeof createServer> | undefined;
  try {
    const http = { url: svc.url };
    const auth = svc.auth;
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${http.url}/health/pause`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: `maintenance window ${i}` }),
      });
      if (!r.ok) throw new Error(`bench: POST /health/pause answered ${r.status}`);
    }
    const body = await (await fetch(`${http.url}/health/service`, { headers: auth })).text();
    bare.get('/status', (_req, res) => void res.type('application/json').send(body));
    server = createServer(bare);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const bareUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
    // Bare and ours alternate (ABAB) and each figure is the median of its runs: the machine's load moves.
    const bases: Array<{ rps: number; p99: number }> = [];
    const runs: Array<{ rps: number; p99: number }> = [];
    // Every reply states its age; a sampler reads it throughout the load.
    let maxAge = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = (await (await fetch(`${http.url}/health/service`, { headers: auth })).json()) as { snapshot_age_ms: number };
        maxAge = Math.max(maxAge, r.snapshot_age_ms);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    try {
      for (let i = 0; i < (size === 'full' ? 3 : 1); i++) {
        bases.push(await load(bareUrl, size));
        runs.push(await load(`${http.url}/health/service`, size, auth));
      }
    } finally {
      sampling = false;
      await sampler;
    }
    const base = { rps: median(bases.map((r) => r.rps)), p99: median(bases.map((r) => r.p99)) };
    const ours = { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)) };
    const ratios = runs.map((r, i) => r.rps / bases[i]!.rps);
    const ratio = median(ratios);
    return [
      {
        id: 'P6',
        name: `GET /health/service (${Math.round(body.length / 1024)} KB, 100 rules, 10 holds)`,
        value: ours.rps,
        unit: 'req/s',
        baseline: { value: base.rps, unit: 'req/s', what: 'bare Express, same JSON' },
        ratio,
        target: '≥ 0.6×, p99 ≤ 2×, snapshot_age_ms ≤ 250',
        pass: ratio >= 0.6 && ours.p99 <= 2 * Math.max(base.p99, 1) && maxAge <= 250,
        detail: {
          p99: ours.p99,
          baseP99: base.p99,
          maxSnapshotAgeMs: maxAge,
          ratios: ratios.map((r) => r.toFixed(2)).join('/'),
        },
      },
    ];
  } finally {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await svc.stop();
  }
}
