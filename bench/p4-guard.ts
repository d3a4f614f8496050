/** P4: calls that start after pause() returned — guarded workers vs plain BullMQ workers. */
import { Queue, Worker } from 'bullmq';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import type { BenchResult, Size } from './lib.js';
import { waitUntil } from './lib.js';
import { startBenchCallguard, type BenchCallguard } from './service.js';

const WORKERS = 4;
const CONCURRENCY = 20;

async function trial(svc: BenchCallguard, guarded: boolean, jobs: number): Promise<number> {
  const name = svc.config.queues[0]!;
  const queue = new Queue(name, { connection: svc.connection(), prefix: svc.config.queuePrefix });
  await queue.obliterate({ force: true });
  await svc.cg.control.resume({ by: 'bench' });
  await queue.resume();
  let pausedAt = Infinity;
  let late = 0;
  let started = 0;
  const processor = async () => {
    started++;
    if (performance.now() > pausedAt) late++;
    // A provider call: a few ms of I/O.
    await new Promise((r) => setTimeout(r, 5));
  };
  const opts = {
    connection: { url: svc.config.redisUrl, maxRetriesPerRequest: null },
    prefix: svc.config.queuePrefix,
    concurrency: CONCURRENCY,
  };
  const workers = Array.from({ length: WORKERS }, () =>
    guarded
      ? createGuardedWorker(name, processor, { ...opts, callguardPrefix: svc.config.prefix, retryDelayMs: 50 })
      : new Worker(name, processor, opts),
  );
  try {
    await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'call', data: { i } })));
    await waitUntil(() => started >= jobs / 4, 30_000, 'workers at full speed');
    if (guarded) await svc.cg.control.pause({ by: 'bench', reason: 'P4' });
    else await queue.pause();
    pausedAt = performance.now();
    await waitUntil(async () => (await queue.getActiveCount()) === 0, 30_000, 'active jobs finished');
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await queue.obliterate({ force: true });
    await queue.close();
  }
  return late;
}

export async function p4(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 20 : 2;
  const jobs = size === 'full' ? 2000 : 200;
  const svc = await startBenchCallguard(
    { twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio call failed'] } },
    {},
    { worker: false },
  );
  try {
    let guardedLate = 0;
    let plainLate = 0;
    for (let i = 0; i < n; i++) {
      guardedLate += await trial(svc, true, jobs);
      plainLate += await trial(svc, false, jobs);
    }
    return [
      {
        id: 'P4',
        name: `calls started after pause() returned, ${WORKERS} workers × concurrency ${CONCURRENCY}, ${n} trials`,
        value: guardedLate,
        unit: 'calls (guarded)',
        baseline: { value: plainLate, unit: 'calls', what: 'plain BullMQ workers' },
        target: '0 with the guard',
        pass: guardedLate === 0,
        detail: { perTrialPlain: plainLate / n },
      },
    ];
  } finally {
    await svc.stop();
  }
}
