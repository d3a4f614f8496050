/** P8: Redis commands per 10,000 errors on each ingest path (a private redis-server counts every command). */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createLogSink } from '../src/client/log-sink.js';
import { Reporter } from '../src/client/reporter.js';
import type { BenchResult, Size } from './lib.js';
import { waitUntil } from './lib.js';
import { BENCH_ADMIN, startBenchCallguard, startRedisServer } from './service.js';

async function processed(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

export async function p8(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 10_000 : 200;
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const svc = await startBenchCallguard(
    { twilio: { threshold_count: 1_000_000_000, window_minutes: 60, log_patterns: ['twilio call failed'] } },
    { REDIS_URL: server.url, CALLGUARD_MINUTE_SECONDS: '60' },
  );
  const rule = svc.rules[0]!;
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const reporter = new Reporter(events, { flushMs: 250 });
  const http = await svc.http();
  const post = (path: string, type: string, body: string) =>
    fetch(`${http.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN.secret}`, 'content-type': type },
      body,
    }).then((r) => {
      if (r.status !== 202) throw new Error(`bench: ${path} answered ${r.status}`);
    });
  const paths: Array<[string, () => Promise<void>]> = [
    [
      'reportError (in-process reporter)',
      async () => {
        for (let i = 0; i < n; i++) reporter.report('twilio');
        await reporter.flush();
      },
    ],
    [
      'log sink (pino → sink → reporter)',
      async () => {
        const logger = pino({}, createLogSink({ rules: svc.rules, reporter }));
        for (let i = 0; i < n; i++) logger.error('twilio call failed: 503');
        await reporter.flush();
      },
    ],
    [
      'POST /health/errors, one error per request',
      async () => {
        for (let i = 0; i < n; i += 50)
          await Promise.all(
            Array.from({ length: 50 }, () => post('/health/errors', 'application/json', JSON.stringify({ rule: 'twilio', count: 1 }))),
          );
      },
    ],
    [
      'POST /health/logs, 100 records per request',
      async () => {
        const batch = Array.from({ length: 100 }, () => JSON.stringify({ level: 50, msg: 'twilio call failed: 503' })).join('\n');
        for (let i = 0; i < n; i += 100) await post('/health/logs', 'application/x-ndjson', batch);
      },
    ],
  ];
  const out: BenchResult[] = [];
  try {
    let expected = await svc.counted(rule);
    for (const [name, run] of paths) {
      const before = await processed(admin);
      await run();
      expected += n;
      await waitUntil(async () => (await svc.counted(rule)) >= expected, 60_000, `${name}: ${n} counted`);
      const commands = (await processed(admin)) - before;
      out.push({ id: 'P8', name: `Redis commands per ${n} errors: ${name}`, value: commands, unit: 'commands' });
    }
    return out;
  } finally {
    await reporter.close();
    await events.close();
    await svc.stop();
    admin.disconnect();
    await server.stop();
  }
}
