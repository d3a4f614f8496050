/**
 * P11: what the guard costs per job. One guarded worker (one provider, each call's outcome
 * recorded, calls that do nothing) against a plain BullMQ Worker on the same queue with the same
 * concurrency, in adjacent pairs (which goes first alternating); the ratio is the pairs' median.
 */
import { Queue, Worker } from 'bullmq';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { Reporter } from '../src/client/reporter.js';
import type { BenchResult, Size } from './lib.js';
import { median, waitUntil } from './lib.js';
import { startBenchCallguard, type BenchCallguard } from './service.js';

const CONCURRENCY = 20;

async function trial(svc: BenchCallguard, reporter: Reporter | undefined, jobs: number): Promise<number> {
  const name = svc.config.queues[0]!;
  const queue = new Queue(name, { connection: svc.connection(), prefix: svc.config.queuePrefix });
  await queue.obliterate({ force: true });
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'call', data: { i }, opts: { removeOnComplete: true } })));
  let first = 0;
  let last = 0;
  let completed = 0;
  // No I/O in the call: the worst case for the guard's relative cost.
  const processor = async () => {
    first ||= performance.now();
  };
  const opts = {
    connection: { url: svc.config.redisUrl, maxRetriesPerRequest: null },
    prefix: svc.config.queuePrefix,
    concurrency: CONCURRENCY,
  };
  const worker = reporter
    ? createGuardedWorker(name, processor, {
        ...opts,
        callguardPrefix: svc.config.prefix,
        provider: () => 'twilio',
        outcomes: reporter,
        rules: svc.rules,
      })
    : new Worker(name, processor, opts);
  worker.on('completed', () => {
    completed++;
    last = performance.now();
  });
  try {
    await waitUntil(() => completed >= jobs, 120_000, `${jobs} jobs completed`);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
  return jobs / ((last - first) / 1000);
}

export async function p11(size: Size): Promise<BenchResult[]> {
  const pairs = size === 'full' ? 8 : 1;
  const jobs = size === 'full' ? 5000 : 100;
  const svc = await startBenchCallguard(
    {
      twilio: {
        providers: ['twilio'],
        failure_rate: 0.5,
        min_calls: 20,
        window_minutes: 60,
        log_patterns: [],
      },
    },
    {},
    { worker: false },
  );
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const reporter = new Reporter(events, { flushMs: 250 });
  try {
    const guarded: number[] = [];
    const plain: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const guardedFirst = i % 2 === 0;
      const a = await trial(svc, guardedFirst ? reporter : undefined, jobs);
      const b = await trial(svc, guardedFirst ? undefined : reporter, jobs);
      const [g, p] = guardedFirst ? [a, b] : [b, a];
      guarded.push(g);
      plain.push(p);
      ratios.push(g / p);
    }
    const ratio = median(ratios);
    return [
      {
        id: 'P11',
        name: `guarded worker (one provider, outcomes recorded, no-op calls), concurrency ${CONCURRENCY}, ${pairs} pairs × ${jobs} jobs (medians)`,
        value: median(guarded),
        unit: 'jobs/s',
        baseline: { value: median(plain), unit: 'jobs/s', what: 'plain BullMQ Worker, same queue and concurrency' },
        ratio,
        target: '≥ 0.85×',
        pass: ratio >= 0.85,
        detail: { minRatio: Math.min(...ratios), maxRatio: Math.max(...ratios) },
      },
    ];
  } finally {
    await reporter.close();
    await events.close();
    await svc.stop();
  }
}
