/** P3: report that crosses the threshold → dispatch queue paused, quiet and during an error storm for another rule. */
import { Queue, QueueEvents } from 'bullmq';
import type { BenchResult, Size } from './lib.js';
import { httpLoad, percentile } from './lib.js';
import { BENCH_ADMIN, startBenchCallguard, type BenchCallguard } from './service.js';

async function trials(svc: BenchCallguard, n: number): Promise<number[]> {
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const queueName = svc.config.queues[0]!;
  const watcher = new QueueEvents(queueName, { connection: { url: svc.config.redisUrl }, prefix: svc.config.queuePrefix });
  await watcher.waitUntilReady();
  const dispatch = new Queue(queueName, { connection: svc.connection(), prefix: svc.config.queuePrefix });
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const paused = new Promise<void>((resolve) => watcher.once('paused', () => resolve()));
      const t0 = performance.now();
      await events.add('error-report', { counts: { twilio: 10 } });
      await Promise.race([paused, new Promise((_, reject) => setTimeout(() => reject(new Error('no pause within 10 s')), 10_000))]);
      out.push(performance.now() - t0);
      const resumed = new Promise<void>((resolve) => watcher.once('resumed', () => resolve()));
      await svc.cg.control.resume({ by: 'bench' });
      await resumed;
      if (await dispatch.isPaused()) throw new Error('queue still paused after resume');
    }
  } finally {
    await Promise.all([watcher.close(), events.close(), dispatch.close()]);
  }
  return out.sort((a, b) => a - b);
}

const result = (id: string, name: string, sorted: number[]): BenchResult => {
  const p99 = percentile(sorted, 99);
  return {
    id,
    name,
    value: p99,
    unit: 'ms p99',
    target: 'p99 ≤ 100 ms',
    pass: p99 <= 100,
    detail: { p50: percentile(sorted, 50), max: sorted.at(-1)!, trials: sorted.length },
  };
};

export async function p3(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 50 : 3;
  const svc = await startBenchCallguard(
    {
      twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio call failed'] },
      storm: { threshold_count: 1_000_000_000, window_minutes: 5, log_patterns: ['storm provider failed'] },
    },
    { CALLGUARD_MINUTE_SECONDS: '60' },
  );
  try {
    const quiet = await trials(svc, n);
    const http = await svc.http();
    const storm = httpLoad({
      url: `${http.url}/health/errors`,
      connections: size === 'full' ? 50 : 5,
      seconds: 600,
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rule: 'storm', count: 1 }),
    });
    let stormed: number[];
    try {
      // Let the storm build up before the first trial.
      await new Promise((r) => setTimeout(r, size === 'full' ? 2000 : 500));
      stormed = await trials(svc, n);
    } finally {
      storm.stop();
    }
    const load = await storm.done;
    return [
      result('P3', 'trip latency, quiet, 60 s minute', quiet),
      {
        ...result('P3s', 'trip latency during a 50-connection error storm on another rule', stormed),
        detail: { ...result('', '', stormed).detail, stormReqPerSec: load.rps, non2xx: load.non2xx },
      },
    ];
  } finally {
    await svc.stop();
  }
}
