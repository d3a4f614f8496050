/**
 * P11: what the guard costs per job. One guarded worker (one provider, each call's outcome
 * recorded, calls that do nothing) against a plain BullMQ Worker on the same queue with the same
 * concurrency, in adjacent pairs (which goes first alternating); the ratio is the pairs' median.
 */
import { Queue, Worker } from 'bullmq';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { Reporter } from '../src/client/reporter.js';
import type { BenchResult, Size } from './lib.js';
import { startBenchCallguard, type BenchCallguard } from './service.js';
import { pairedResult, pairedTrials, throughputTrial, workerOptions, type Trial } from './trial.js';

const CONCURRENCY = 20;

function trial(svc: BenchCallguard, reporter: Reporter | undefined, jobs: number): Promise<Trial> {
  const opts = workerOptions(svc, CONCURRENCY);
  return throughputTrial(svc, {
    jobs,
    start: (name, processor) =>
      reporter
        ? createGuardedWorker(name, processor, { ...opts, provider: () => 'twilio', outcomes: reporter, rules: svc.rules })
        : new Worker(name, processor, opts),
  });
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
    const t = await pairedTrials(
      pairs,
      () => trial(svc, reporter, jobs),
      () => trial(svc, undefined, jobs),
    );
    return [
      pairedResult(t, {
        id: 'P11',
        name: `guarded worker (one provider, outcomes recorded, no-op calls), concurrency ${CONCURRENCY}, ${pairs} pairs × ${jobs} jobs (medians)`,
        baseline: 'plain BullMQ Worker, same queue and concurrency',
        min: 0.85,
      }),
    ];
  } finally {
    await reporter.close();
    await events.close();
    await svc.stop();
  }
}
