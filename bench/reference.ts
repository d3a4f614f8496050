/** The machine's own Redis limit, so readers see how close each path runs to it. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BenchResult, Size } from './lib.js';
import { startRedisServer } from './service.js';

const run = promisify(execFile);

export async function reference(size: Size): Promise<BenchResult[]> {
  const server = await startRedisServer();
  try {
    const n = size === 'full' ? 200_000 : 2_000;
    const out: BenchResult[] = [];
    for (const [label, args] of [
      ['1 client', ['-c', '1']],
      ['50 clients, pipeline 16', ['-c', '50', '-P', '16']],
    ] as const) {
      const { stdout } = await run('redis-benchmark', ['-p', String(server.port), '-t', 'incr', '-n', String(n), '-q', ...args]);
      const rps = Number(/([\d.]+) requests per second/.exec(stdout)?.[1] ?? NaN);
      out.push({ id: 'REF', name: `redis-benchmark -t incr, ${label}`, value: rps, unit: 'INCR/s' });
    }
    return out;
  } finally {
    await server.stop();
  }
}
