/** P1: what the callguard sink adds to pino, attached exactly as the README shows. */
import { pino } from 'pino';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogSink } from '../src/client/log-sink.js';
import type { Rule } from '../src/domain/types.js';
import { median, type BenchResult, type Size } from './lib.js';

function rules(count: number, phrases: number): Rule[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `provider${i}`,
    thresholdCount: 10,
    windowMinutes: 5,
    queues: 'all' as const,
    minLevel: 40,
    logPatterns: Array.from({ length: phrases }, (_, j) => `provider ${i} failure mode ${j} detected`),
  }));
}

/** A full collection (V8's gc(), made available for this without --expose-gc on the command line). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function p1(size: Size): Promise<BenchResult[]> {
  const records = size === 'full' ? 200_000 : 2_000;
  const sinkRules = rules(50, 5);
  const reporter = { report: () => undefined };
  const dest = () => pino.destination({ dest: '/dev/null', sync: true });
  const plain = pino({}, dest());
  // The README's set-up: the sink in front of the app's destination.
  const sink = createLogSink({ rules: sinkRules, reporter, destination: dest() });
  const withSink = pino({}, sink);
  // The README's other set-up, beside other streams in a multistream.
  const inMultistream = pino({}, pino.multistream([{ stream: dest() }, createLogSink({ rules: sinkRules, reporter })]));
  const run = (logger: pino.Logger, n: number) => {
    for (let i = 0; i < n; i++) {
      // 1 % of the lines match a rule, as an app in trouble logs them.
      if (i % 100 === 0) logger.error({ job: i }, `error when making call: provider ${i % 50} failure mode ${i % 5} detected`);
      else logger.info({ job: i, queue: 'calls' }, 'call placed to provider');
    }
  };
  // CPU time of this process (all three log synchronously to /dev/null): on a machine shared with
  // other work, wall time mostly measures when the scheduler let the loop run. Each starts from a
  // collected heap, so none pays for the garbage the one before it left.
  const time = (logger: pino.Logger) => {
    collectGarbage();
    const t0 = process.cpuUsage();
    run(logger, records);
    const used = process.cpuUsage(t0);
    return (used.user + used.system) / 1000;
  };
  for (const logger of [plain, withSink, inMultistream]) run(logger, records / 10);
  // Rounds of all three, the order rotating; each round's ratios, and their medians.
  const rounds = size === 'full' ? 11 : 2;
  const plains: number[] = [];
  const sinks: number[] = [];
  const multis: number[] = [];
  const sinkRatios: number[] = [];
  const multiRatios: number[] = [];
  const loggers = [plain, withSink, inMultistream] as const;
  for (let i = 0; i < rounds; i++) {
    const ms = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      const j = (i + k) % 3;
      ms[j] = time(loggers[j]!);
    }
    plains.push(ms[0]!);
    sinks.push(ms[1]!);
    multis.push(ms[2]!);
    sinkRatios.push(ms[1]! / ms[0]!);
    multiRatios.push(ms[2]! / ms[0]!);
  }
  const ratio = median(sinkRatios);
  const multiRatio = median(multiRatios);
  const best = { plain: median(plains), sink: median(sinks), multi: median(multis) };
  const baseline = { value: best.plain, unit: 'ms CPU', what: 'pino alone, same destination' };
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  return [
    {
      id: 'P1',
      name: `pino + sink in front of the destination, ${records} records, 1 % matching, 50 rules × 5 phrases`,
      value: best.sink,
      unit: 'ms CPU',
      baseline,
      ratio,
      target: '≤ 1.05× (median of rounds)',
      pass: ratio <= 1.05,
      detail: { matched: sink.stats().matched, ratios: spread(sinkRatios) },
    },
    {
      id: 'P1m',
      name: 'pino + sink beside the destination in pino.multistream',
      value: best.multi,
      unit: 'ms CPU',
      baseline,
      ratio: multiRatio,
      target: '≤ 1.10× (median of rounds)',
      pass: multiRatio <= 1.1,
      detail: { ratios: spread(multiRatios) },
    },
  ];
}
