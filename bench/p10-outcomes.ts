/**
 * P10: what outcome recording costs. Calls/s of guarded workers with a `provider` function (each
 * call's outcome recorded through a Reporter, counted by the running health worker) against the
 * same workers without one, in alternating trials; and the in-memory cost of reporter.outcome()
 * against reporter.report(), the error reporter's own per-call cost.
 */
import { Queue } from 'bullmq';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { Reporter } from '../src/client/reporter.js';
import { outcomeCounter, slowThresholds } from '../src/domain/outcomes.js';
import type { BenchResult, Size } from './lib.js';
import { median, waitUntil } from './lib.js';
import { startBenchCallguard, type BenchCallguard } from './service.js';
import { pairedTrials, throughputTrial, workerOptions, type Trial } from './trial.js';

const WORKERS = 2;
const CONCURRENCY = 20;
const PROVIDERS = ['twilio', 'plivo'];
const RULE = 'dialers';

function trial(svc: BenchCallguard, reporter: Reporter | undefined, jobs: number): Promise<Trial> {
  const opts = {
    ...workerOptions(svc, CONCURRENCY),
    ...(reporter ? { provider: (job: { data: { provider: string } }) => job.data.provider, outcomes: reporter, rules: svc.rules } : {}),
  };
  return throughputTrial(svc, {
    jobs,
    workers: WORKERS,
    data: (i) => ({ provider: PROVIDERS[i % 2] }),
    start: (name, processor) => createGuardedWorker(name, processor, opts),
  });
}

/** Nanoseconds per call of report() and of outcome(), timed in alternating rounds. */
function perCall(reporter: Reporter, slowMs: number[], rounds: number, calls: number): { report: number; outcome: number } {
  const time = (f: (i: number) => void) => {
    const t = performance.now();
    for (let i = 0; i < calls; i++) f(i);
    return performance.now() - t;
  };
  const report = () => time(() => reporter.report(RULE));
  // One call in 16 fails; a third are slower than the rule's slow_call_ms.
  const outcome = () => time((i) => reporter.outcome(PROVIDERS[i & 1]!, (i & 15) === 0, i % 1500, slowMs));
  report();
  outcome();
  let r = 0;
  let o = 0;
  for (let k = 0; k < rounds; k++) {
    if (k % 2) {
      r += report();
      o += outcome();
    } else {
      o += outcome();
      r += report();
    }
  }
  const ns = (ms: number) => (ms * 1e6) / (rounds * calls);
  return { report: ns(r), outcome: ns(o) };
}

export async function p10(size: Size): Promise<BenchResult[]> {
  const pairs = size === 'full' ? 10 : 1;
  const jobs = size === 'full' ? 6000 : 100;
  const svc = await startBenchCallguard({
    [RULE]: {
      providers: PROVIDERS,
      failure_rate: 0.5,
      slow_call_ms: 1000,
      slow_call_rate: 0.5,
      min_calls: 20,
      window_minutes: 60,
      log_patterns: [],
    },
  });
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const reporter = new Reporter(events, { flushMs: 250 });
  try {
    const rule = svc.rules[0]!;
    const t = await pairedTrials(
      pairs,
      () => trial(svc, reporter, jobs),
      () => trial(svc, undefined, jobs),
      (i) => i % 2 === 1,
    );
    const [withs, withouts, ratios] = [t.measured, t.baseline, t.ratios];
    await reporter.flush();
    const expected = pairs * jobs;
    const calls = async () => (await svc.cg.counters.sums([rule])).counts[outcomeCounter(rule.name, 'calls')] ?? 0;
    await waitUntil(async () => (await calls()) >= expected, 30_000, `${expected} calls in the rule's window`);
    const counted = await calls();

    const rounds = size === 'full' ? 20 : 2;
    const callsPerRound = size === 'full' ? 500_000 : 5_000;
    const cost = perCall(reporter, slowThresholds(svc.rules, PROVIDERS[0]!), rounds, callsPerRound);

    return [
      {
        id: 'P10',
        name: `guarded workers recording outcomes, ${WORKERS} workers × concurrency ${CONCURRENCY}, no-op calls, ${pairs} pairs × ${jobs} jobs (medians)`,
        value: median(withs.map((t) => t.rate)),
        unit: 'calls/s',
        baseline: { value: median(withouts.map((t) => t.rate)), unit: 'calls/s', what: 'same guarded workers without provider' },
        // No verdict: the target (no dearer than the reporter) is P10b's; this is the whole price.
        ratio: median(ratios),
        detail: {
          minRatio: Math.min(...ratios),
          maxRatio: Math.max(...ratios),
          cpuUsPerCall: median(withs.map((t) => t.cpuUs)),
          baseCpuUsPerCall: median(withouts.map((t) => t.cpuUs)),
          counted,
        },
      },
      {
        id: 'P10b',
        name: `reporter.outcome() per call, in memory, ${rounds} × ${callsPerRound} calls`,
        value: cost.outcome,
        unit: 'ns',
        baseline: { value: cost.report, unit: 'ns', what: 'reporter.report()' },
        ratio: cost.outcome / cost.report,
        target: '≤ 1.0×',
        pass: cost.outcome <= cost.report,
      },
    ];
  } finally {
    await reporter.close();
    await events.close();
    await svc.stop();
  }
}
