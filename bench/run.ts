/**
 * `npm run bench`: one line per benchmark — figure, baseline measured in the same run, ratio,
 * target, verdict — and bench/results.json. `--smoke` runs each with tiny sizes (npm test does).
 * Every benchmark uses its own Redis prefix or its own redis-server and cleans up.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { line, type BenchResult, type Size } from './lib.js';
import { p1 } from './p1-log-sink.js';
import { p2 } from './p2-report-error.js';
import { p3 } from './p3-trip-latency.js';
import { p4 } from './p4-guard.js';
import { p5 } from './p5-evaluator.js';
import { p6 } from './p6-status.js';
import { p7 } from './p7-ingest.js';
import { p8 } from './p8-commands.js';
import { p9 } from './p9-holds.js';
import { p10 } from './p10-outcomes.js';
import { p11 } from './p11-guard-cost.js';
import { p12 } from './p12-failover.js';
import { p13 } from './p13-memory.js';
import { p14 } from './p14-rules-propagation.js';
import { reference } from './reference.js';

const size: Size = process.argv.includes('--smoke') ? 'smoke' : 'full';
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const benches = {
  REF: reference,
  P1: p1,
  P2: p2,
  P3: p3,
  P4: p4,
  P5: p5,
  P6: p6,
  P7: p7,
  P8: p8,
  P9: p9,
  P10: p10,
  P11: p11,
  P12: p12,
  P13: p13,
  P14: p14,
};

const started = performance.now();
const results: BenchResult[] = [];
for (const [id, bench] of Object.entries(benches)) {
  if (only && !only.includes(id)) continue;
  for (const r of await bench(size)) {
    results.push(r);
    console.log(line(r));
  }
}
const seconds = (performance.now() - started) / 1000;
const failed = results.filter((r) => r.pass === false).map((r) => r.id);
console.log(
  `bench (${size}) finished in ${seconds.toFixed(0)} s on ${os.cpus().length} cores; ${failed.length ? `below target: ${failed.join(', ')}` : 'every target met'}`,
);
// A partial run (--only) leaves the last full run's results in place.
if (size === 'full' && !only)
  writeFileSync(
    new URL('./results.json', import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), seconds, cpus: os.cpus().length, results }, null, 2) + '\n',
  );
process.exit(0);
