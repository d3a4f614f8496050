/**
 * Throughput trials for the guarded-worker benchmarks (P10, P11, P12): a queue filled at once,
 * workers whose calls do nothing (the worst case for the guard's relative cost), timed from the
 * first call started to the last job completed.
 */
import { Queue, type Worker } from 'bullmq';
import { median, waitUntil, type BenchResult } from './lib.js';
import type { BenchCallguard } from './service.js';

export interface Trial {
  /** Jobs per second from the first call started to the last job completed. */
  rate: number;
  /** This process's CPU time per job (workers, reporter and health worker), µs: steadier than wall time on a busy machine. */
  cpuUs: number;
}

/** What every trial's workers share: the service's Redis and prefixes, and a concurrency. */
export function workerOptions(svc: BenchCallguard, concurrency: number) {
  return {
    connection: { url: svc.config.redisUrl, maxRetriesPerRequest: null },
    prefix: svc.config.queuePrefix,
    callguardPrefix: svc.config.prefix,
    concurrency,
  };
}

/**
 * Queues `jobs` jobs (data from `data`) on the service's first queue, starts `workers` workers
 * with `start`, waits until every job completed, and closes them and empties the queue.
 */
export async function throughputTrial(
  svc: BenchCallguard,
  opts: { jobs: number; workers?: number; data?: (i: number) => unknown; start: (queue: string, processor: () => Promise<void>) => Worker },
): Promise<Trial> {
  const { jobs, workers: count = 1, data = (i) => ({ i }) } = opts;
  const name = svc.config.queues[0]!;
  const queue = new Queue(name, { connection: svc.connection(), prefix: svc.config.queuePrefix });
  await queue.obliterate({ force: true });
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'call', data: data(i), opts: { removeOnComplete: true } })));
  let first = 0;
  let last = 0;
  let completed = 0;
  const processor = async () => {
    first ||= performance.now();
  };
  const cpu = process.cpuUsage();
  const workers = Array.from({ length: count }, () => opts.start(name, processor));
  for (const w of workers) {
    w.on('completed', () => {
      completed++;
      last = performance.now();
    });
  }
  let cpuUs: number;
  try {
    await waitUntil(() => completed >= jobs, 120_000, `${jobs} jobs completed`);
    const used = process.cpuUsage(cpu);
    cpuUs = (used.user + used.system) / jobs;
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await queue.obliterate({ force: true });
    await queue.close();
  }
  return { rate: jobs / ((last - first) / 1000), cpuUs };
}

/**
 * `pairs` adjacent pairs of trials, which goes first alternating: the machine's load drifts over
 * seconds, so each pair sees about the same load and the pairs' median ratio sees through it.
 */
export async function pairedTrials(
  pairs: number,
  measured: () => Promise<Trial>,
  baseline: () => Promise<Trial>,
  measuredFirst: (pair: number) => boolean = (i) => i % 2 === 0,
): Promise<{ measured: Trial[]; baseline: Trial[]; ratios: number[] }> {
  const out = { measured: [] as Trial[], baseline: [] as Trial[], ratios: [] as number[] };
  for (let i = 0; i < pairs; i++) {
    const first = measuredFirst(i);
    const a = await (first ? measured : baseline)();
    const b = await (first ? baseline : measured)();
    const [m, base] = first ? [a, b] : [b, a];
    out.measured.push(m);
    out.baseline.push(base);
    out.ratios.push(m.rate / base.rate);
  }
  return out;
}

/** A throughput result from paired trials: the medians in jobs/s, and the pairs' median ratio against `min`. */
export function pairedResult(
  t: { measured: Trial[]; baseline: Trial[]; ratios: number[] },
  r: { id: string; name: string; baseline: string; min: number },
): BenchResult {
  const ratio = median(t.ratios);
  return {
    id: r.id,
    name: r.name,
    value: median(t.measured.map((x) => x.rate)),
    unit: 'jobs/s',
    baseline: { value: median(t.baseline.map((x) => x.rate)), unit: 'jobs/s', what: r.baseline },
    ratio,
    target: `≥ ${r.min}×`,
    pass: ratio >= r.min,
    detail: { minRatio: Math.min(...t.ratios), maxRatio: Math.max(...t.ratios) },
  };
}
