/** P2: reportError end to end — calls until every count is in the rule's window. */
import { Queue } from 'bullmq';
import { Reporter } from '../src/client/reporter.js';
import type { BenchResult, Size } from './lib.js';
import { benchPrefix, countingRedis, dropPrefixes, waitUntil } from './lib.js';
import { startBenchCallguard } from './service.js';

export async function p2(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 2_000_000 : 2_000;
  const plainN = size === 'full' ? 20_000 : 200;
  const svc = await startBenchCallguard({ twilio: { threshold_count: 1e9, window_minutes: 60, log_patterns: ['x twilio failure'] } });
  try {
    const queue = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
    const reporter = new Reporter(queue, { flushMs: 250 });
    const rule = svc.rules[0]!;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) reporter.report('twilio');
    await reporter.flush();
    await waitUntil(async () => (await svc.counted(rule)) >= n, 60_000, `${n} counts in the window`);
    const seconds = (performance.now() - t0) / 1000;
    await reporter.close();
    await queue.close();

    const { prefix } = benchPrefix();
    const redis = countingRedis();
    const t1 = performance.now();
    for (let i = 0; i < plainN; i++) {
      await redis.incr(`${prefix}:c`);
      await redis.expire(`${prefix}:c`, 600);
    }
    const awaited = plainN / ((performance.now() - t1) / 1000);
    const t2 = performance.now();
    const pipe = redis.pipeline();
    for (let i = 0; i < plainN * 10; i++) pipe.incr(`${prefix}:p`);
    await pipe.exec();
    const pipelined = (plainN * 10) / ((performance.now() - t2) / 1000);
    redis.disconnect();
    await dropPrefixes(prefix);

    const rate = n / seconds;
    return [
      {
        id: 'P2',
        name: `reportError × ${n} end to end`,
        value: rate,
        unit: 'reports/s',
        baseline: { value: awaited, unit: '/s', what: 'awaited INCR + EXPIRE per error' },
        ratio: rate / awaited,
        target: '≥ 1000×',
        pass: rate / awaited >= 1000,
      },
      {
        id: 'P2b',
        name: 'reportError vs pipelined INCR',
        value: rate,
        unit: 'reports/s',
        baseline: { value: pipelined, unit: '/s', what: 'pipelined INCR' },
        ratio: rate / pipelined,
        target: '≥ 50×',
        pass: rate / pipelined >= 50,
      },
    ];
  } finally {
    await svc.stop();
  }
}
