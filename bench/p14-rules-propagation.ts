/**
 * P14: rules propagation spread. Three instances on one Redis (CALLGUARD_RULES_SOURCE=redis); a
 * new version published on A; the time from the publish call until every instance runs it (its
 * change listener fired: what its status shows). Instances poll the active version every
 * RULES_POLL_MS, so the spread is one poll interval plus a read at worst.
 */
import { RULES_POLL_MS } from '../src/engine/live-rules.js';
import type { BenchResult, Size } from './lib.js';
import { benchPrefix, percentile } from './lib.js';
import { startBenchCallguard, type BenchCallguard } from './service.js';

const rulesWith = (threshold: number) => ({
  twilio: { threshold_count: threshold, window_minutes: 10, log_patterns: ['twilio api error'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
});

/** Resolves with performance.now() once the instance runs `version`. */
function adopted(b: BenchCallguard, version: number): Promise<number> {
  return new Promise((resolve) => {
    if (b.cg.liveRules.version >= version) return resolve(performance.now());
    b.cg.liveRules.onChange((v) => {
      if (v.version >= version) resolve(performance.now());
    });
  });
}

export async function p14(size: Size): Promise<BenchResult[]> {
  const trials = size === 'full' ? 30 : 2;
  const { prefix, queuePrefix } = benchPrefix();
  const env = { CALLGUARD_PREFIX: prefix, CALLGUARD_QUEUE_PREFIX: queuePrefix, CALLGUARD_RULES_SOURCE: 'redis' };
  const instances: BenchCallguard[] = [];
  const spreads: number[] = [];
  try {
    for (let i = 0; i < 3; i++) instances.push(await startBenchCallguard(rulesWith(100), env, { worker: false }));
    const a = instances[0]!;
    for (let i = 0; i < trials; i++) {
      // A random phase against the instances' poll timers: the previous trial ended right after a poll.
      await new Promise((r) => setTimeout(r, Math.random() * RULES_POLL_MS));
      const next = a.cg.liveRules.version + 1;
      const waits = instances.map((b) => adopted(b, next));
      const deadline = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('P14: a version not adopted within 10 s')), 10_000),
      );
      const t0 = performance.now();
      await a.cg.liveRules.publish({ content: rulesWith(100 - (i % 2) * 97), expected: next - 1, by: 'bench', source: 'api' });
      const at = await Promise.race([Promise.all(waits), deadline]);
      spreads.push(Math.max(...at) - t0);
    }
  } finally {
    // Every instance stopped before the shared keys go (each stop drops them; later drops find nothing).
    for (const b of instances.reverse()) await b.stop();
  }
  const sorted = spreads.sort((x, y) => x - y);
  const max = sorted.at(-1)!;
  return [
    {
      id: 'P14',
      name: `rules version published on A until all 3 instances run it (${trials} versions, poll every ${RULES_POLL_MS} ms)`,
      value: max,
      unit: 'ms max',
      target: '≤ 1000 ms',
      pass: max <= 1000,
      detail: { p50: percentile(sorted, 50), min: sorted[0]! },
    },
  ];
}
