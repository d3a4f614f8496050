/**
 * P3: a report that crosses the threshold → dispatch queue paused, measured as users run callguard:
 * the service is `npm start` in its own process, the storm (autocannon) another, and the watcher
 * (the reporting app: it adds the report and waits for BullMQ's `paused` event) this one. Quiet,
 * then while 50 and 200 connections post errors for another rule, then with 200 and a separate
 * health process (`npm run start:health`) next to the API.
 */
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { BenchResult, Size } from './lib.js';
import { httpLoad, percentile, REDIS_URL } from './lib.js';
import { startServiceProcesses, type ServiceProcesses } from './processes.js';

const RULES = {
  twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio call failed'] },
  storm: { threshold_count: 1_000_000_000, window_minutes: 5, log_patterns: ['storm provider failed'] },
};

async function trials(svc: ServiceProcesses, n: number): Promise<number[]> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const events = new Queue('events', { connection: redis, prefix: svc.prefix });
  const queueName = svc.queues[0]!;
  // Read from the stream's last entry as it is now: with the default '$' an event landing before
  // the watcher's first read (a quick first trip) would be missed.
  const [last] = await redis.xrevrange(`${svc.queuePrefix}:${queueName}:events`, '+', '-', 'COUNT', 1);
  const watcher = new QueueEvents(queueName, { connection: { url: REDIS_URL }, prefix: svc.queuePrefix, lastEventId: last?.[0] ?? '0-0' });
  await watcher.waitUntilReady();
  const dispatch = new Queue(queueName, { connection: redis, prefix: svc.queuePrefix });
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const paused = new Promise<void>((resolve) => watcher.once('paused', () => resolve()));
      const t0 = performance.now();
      await events.add('error-report', { counts: { twilio: 10 } });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 10_000)));
      const outcome = await Promise.race([paused, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        // Which it was: no pause at all, or a pause whose event never reached the watcher.
        throw new Error(`bench: no paused event within 10 s (trial ${i + 1}; queue paused: ${await dispatch.isPaused()})`);
      }
      out.push(performance.now() - t0);
      const resumed = new Promise<void>((resolve) => watcher.once('resumed', () => resolve()));
      const r = await fetch(`${svc.url}/health/resume`, { method: 'POST', headers: svc.auth, signal: AbortSignal.timeout(30_000) });
      if (r.status !== 200) throw new Error(`bench: resume answered ${r.status}`);
      await resumed;
      if (await dispatch.isPaused()) throw new Error('queue still paused after resume');
    }
  } finally {
    await Promise.all([watcher.close(), events.close(), dispatch.close()]);
    redis.disconnect();
  }
  return out.sort((a, b) => a - b);
}

async function stormed(svc: ServiceProcesses, size: Size, connections: number, n: number) {
  const storm = httpLoad({
    url: `${svc.url}/health/errors`,
    connections: size === 'full' ? connections : 5,
    seconds: 600,
    method: 'POST',
    headers: { ...svc.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ rule: 'storm', count: 1 }),
  });
  let sorted: number[];
  try {
    // Let the storm build up before the first trial.
    await new Promise((r) => setTimeout(r, size === 'full' ? 2000 : 500));
    sorted = await trials(svc, n);
  } finally {
    storm.stop();
  }
  return { sorted, load: await storm.done };
}

const result = (id: string, name: string, sorted: number[], extra: Record<string, number | string> = {}): BenchResult => {
  const p99 = percentile(sorted, 99);
  return {
    id,
    name,
    value: p99,
    unit: 'ms p99',
    target: 'p99 ≤ 100 ms',
    pass: p99 <= 100,
    detail: { p50: percentile(sorted, 50), max: sorted.at(-1)!, trials: sorted.length, ...extra },
  };
};

export async function p3(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 50 : 3;
  const out: BenchResult[] = [];
  const single = await startServiceProcesses(RULES, { size });
  try {
    out.push(result('P3', 'trip latency, quiet, npm start in its own process', await trials(single, n)));
    for (const connections of [50, 200]) {
      const { sorted, load } = await stormed(single, size, connections, n);
      out.push(
        result(connections === 50 ? 'P3s' : 'P3s2', `trip latency during a ${connections}-connection error storm on another rule`, sorted, {
          stormReqPerSec: load.rps,
          non2xx: load.non2xx,
        }),
      );
    }
  } finally {
    await single.stop();
  }
  const split = await startServiceProcesses(RULES, { size, health: 1 });
  try {
    const { sorted, load } = await stormed(split, size, 200, n);
    out.push(
      result('P3h', 'trip latency during a 200-connection storm, npm start + npm run start:health', sorted, {
        stormReqPerSec: load.rps,
        non2xx: load.non2xx,
      }),
    );
  } finally {
    await split.stop();
  }
  return out;
}
