/** P1: what the callguard sink adds to pino, attached exactly as the README shows. */
import { pino } from 'pino';
import { createLogSink } from '../src/client/log-sink.js';
import type { Rule } from '../src/domain/types.js';
import type { BenchResult, Size } from './lib.js';

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
  const time = (logger: pino.Logger) => {
    const t0 = performance.now();
    run(logger, records);
    return performance.now() - t0;
  };
  for (const logger of [plain, withSink, inMultistream]) run(logger, records / 10);
  // Alternate and keep the best of five: the loggers share the machine's noise.
  let best = { plain: Infinity, sink: Infinity, multi: Infinity };
  for (let i = 0; i < 5; i++) {
    best = {
      plain: Math.min(best.plain, time(plain)),
      sink: Math.min(best.sink, time(withSink)),
      multi: Math.min(best.multi, time(inMultistream)),
    };
  }
  const ratio = best.sink / best.plain;
  const baseline = { value: best.plain, unit: 'ms', what: 'pino alone, same destination' };
  return [
    {
      id: 'P1',
      name: `pino + sink in front of the destination, ${records} records, 1 % matching, 50 rules × 5 phrases`,
      value: best.sink,
      unit: 'ms',
      baseline,
      ratio,
      target: '≤ 1.10×',
      pass: ratio <= 1.1,
      detail: { matched: sink.stats().matched },
    },
    {
      id: 'P1m',
      name: 'pino + sink beside the destination in pino.multistream',
      value: best.multi,
      unit: 'ms',
      baseline,
      ratio: best.multi / best.plain,
    },
  ];
}
