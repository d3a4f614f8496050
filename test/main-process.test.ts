import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD_SECRET, startTs, stopChildren } from './support/child.js';
import { cleanup, testConfig, waitFor } from './support/harness.js';

afterEach(stopChildren);

describe('npm start: the health worker on its own thread', () => {
  it('when a report over HTTP crosses a threshold, then the dispatch queue pauses and /metrics counts the thread’s work', async () => {
    const config = testConfig();
    const { child, exited, record } = startTs('src/app/main.ts', {
      CALLGUARD_PREFIX: config.prefix,
      CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
      CALLGUARD_QUEUES: 'calls',
      CALLGUARD_MINUTE_SECONDS: '60',
      PORT: '0',
      CALLGUARD_USERS: `ops:admin:${CHILD_SECRET}`,
    });
    const queue = new Queue('calls', { connection: { url: config.redisUrl }, prefix: config.queuePrefix });
    try {
      const { url } = await waitFor(() => record<{ msg: string; url: string }>('callguard started'), { timeoutMs: 30_000 });
      const auth = { authorization: `Bearer ${CHILD_SECRET}` };
      const posted = await fetch(`${url}/health/errors`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ rule: 'twilio', count: 12 }),
      });
      expect(posted.status).toBe(202);
      await waitFor(() => queue.isPaused(), { what: 'calls paused by rule twilio' });
      // Counted on the health thread, reported by the HTTP thread's /metrics.
      const metrics = await waitFor(
        async () => {
          const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
          return /^callguard_errors_total\{rule="twilio"\} 12$/m.test(text) && text;
        },
        { what: 'the thread’s count in /metrics' },
      );
      expect(metrics).toMatch(/^callguard_transitions_total\{[^}]*event="hold-added"[^}]*cause="rule"[^}]*\} 1$/m);
      // The status snapshot's Redis reads are made on the health thread and posted across.
      const status = (await (await fetch(`${url}/health/service`, { headers: auth })).json()) as {
        is_paused: boolean;
        source_rule: string | null;
        rules: Record<string, { error_count: number }>;
      };
      expect(status).toMatchObject({ is_paused: true, source_rule: 'twilio', rules: { twilio: { error_count: 12 } } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await queue.close();
      await cleanup(config);
    }
  }, 60_000);
});
