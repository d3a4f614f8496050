import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD_SECRET, startTs, stopChildren } from './support/child.js';
import { cleanup, testConfig, waitFor } from './support/harness.js';

afterEach(stopChildren);

const placed = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('"call placed"'))
    .map((l) => JSON.parse(l).job as string);

describe('graceful shutdown', () => {
  it('SIGTERM to a dispatch worker with calls in progress: they finish, nothing is lost or run twice', async () => {
    const config = testConfig();
    const env = {
      CALLGUARD_PREFIX: config.prefix,
      CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
      CALLGUARD_QUEUES: 'calls',
      EXAMPLE_FAIL_SECONDS: '0',
      EXAMPLE_LATENCY_MS: '300',
      EXAMPLE_JOBS_PER_SECOND: '0',
    };
    const queue = new Queue('calls', { connection: { url: config.redisUrl }, prefix: config.queuePrefix });
    try {
      await queue.addBulk(Array.from({ length: 40 }, (_, i) => ({ name: 'call', data: { to: `+1555000${i}` } })));
      const first = startTs('examples/dispatch-example.ts', env);
      await waitFor(() => placed(first.output()).length >= 4 && queue.getActiveCount().then((n) => n > 0), { timeoutMs: 15_000 });
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(await queue.getActiveCount()).toBe(0);
      const second = startTs('examples/dispatch-example.ts', env);
      await waitFor(async () => (await queue.getCompletedCount()) === 40, { timeoutMs: 20_000 });
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);

      const ids = [...placed(first.output()), ...placed(second.output())];
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
      expect(await queue.getFailedCount()).toBe(0);
      expect(placed(first.output()).length).toBeGreaterThan(0);
    } finally {
      await queue.close();
      await cleanup(config);
    }
  }, 60_000);

  it('SIGTERM to npm start: stops serving, closes cleanly and exits 0', async () => {
    const config = testConfig();
    const main = startTs('src/app/main.ts', {
      CALLGUARD_PREFIX: config.prefix,
      CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
      PORT: '0',
      CALLGUARD_USERS: `ops:admin:${CHILD_SECRET}`,
      CALLGUARD_MINUTE_SECONDS: '1',
    });
    try {
      const { url } = await waitFor(() => main.record<{ msg: string; url: string }>('callguard started'), { timeoutMs: 15_000 });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      main.child.kill('SIGTERM');
      expect(await main.exited).toBe(0);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(main.output()).toContain('"msg":"stopping"');
    } finally {
      await cleanup(config);
    }
  }, 30_000);
});
