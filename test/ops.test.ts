import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { parsePrometheus } from './support/prometheus.js';
import { request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 3, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };

let t: TestHttp | undefined;
const servers: ChildProcess[] = [];
afterEach(async () => {
  await stopTestHttp(t);
  t = undefined;
  for (const s of servers.splice(0)) s.kill('SIGKILL');
});

describe('GET /metrics', () => {
  it("is valid Prometheus text with callguard's figures, for viewers and admins only", async () => {
    t = await startTestHttp(RULES);
    expect((await request(`${t.url}/metrics`)).status).toBe(401);
    expect((await request(`${t.url}/metrics`, { token: tokenOf('alerts') })).status).toBe(403);

    t.cg.reporter.report('twilio', 3);
    await t.cg.reporter.flush();
    await waitFor(() => t!.cg.dispatch.get('calls')!.isPaused());
    await t.cg.control.pause({ by: 'ops', reason: 'maintenance' });

    const scrape = async () => {
      const reply = await request(`${t!.url}/metrics`, { token: tokenOf('viewer') });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toContain('text/plain');
      return parsePrometheus(reply.text);
    };
    let families = await scrape();
    const value = (name: string, labels: Record<string, string> = {}) =>
      (families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples.find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    // The pause lands inside the report's job; the worker counts the job once BullMQ has completed it, a moment later.
    await waitFor(
      async () => {
        families = await scrape();
        return value('callguard_ingest_jobs_total', { job: 'error-report', outcome: 'completed' }) !== undefined;
      },
      { what: 'the error-report job counted in /metrics' },
    );

    expect(value('callguard_rule_errors_in_window', { rule: 'twilio' })).toBe(3);
    expect(value('callguard_rule_threshold', { rule: 'twilio' })).toBe(3);
    expect(value('callguard_holds', { kind: 'rule', effect: 'pause' })).toBe(1);
    expect(value('callguard_holds', { kind: 'manual', effect: 'pause' })).toBe(1);
    expect(value('callguard_queue_paused', { queue: 'calls' })).toBe(1);
    expect(value('callguard_queue_waiting_jobs', { queue: 'calls' })).toBe(0);
    expect(value('callguard_transitions_total', { event: 'hold-added', cause: 'rule' })).toBe(1);
    expect(value('callguard_transitions_total', { event: 'hold-added', cause: 'manual' })).toBe(1);
    expect(value('callguard_ingest_jobs_total', { job: 'error-report', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(families.get('callguard_evaluator_duration_seconds')?.type).toBe('histogram');
    expect(value('callguard_evaluator_duration_seconds_count', { kind: 'fast' })).toBeGreaterThanOrEqual(1);
    expect(families.has('callguard_notification_failures_total')).toBe(true);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
  });

  it('CALLGUARD_METRICS_PUBLIC=true serves it without a token', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_METRICS_PUBLIC: 'true' });
    const reply = await request(`${t.url}/metrics`);
    expect(reply.status).toBe(200);
    expect(parsePrometheus(reply.text).has('callguard_queue_paused')).toBe(true);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): ChildProcess {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  servers.push(child);
  return child;
}

describe('probes', () => {
  it('/healthz answers without credentials and says nothing about internals', async () => {
    t = await startTestHttp(RULES);
    const reply = await request(`${t.url}/healthz`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok' });
  });

  it('/readyz turns 503 when Redis goes away and 200 when it is back', async () => {
    const port = await freePort();
    let redis = startRedis(port);
    await waitFor(async () => {
      try {
        const { Redis } = await import('ioredis');
        const c = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
        c.on('error', () => undefined);
        await c.connect();
        await c.quit();
        return true;
      } catch {
        return false;
      }
    });
    t = await startTestHttp(RULES, { REDIS_URL: `redis://127.0.0.1:${port}` });
    const ready = await request(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({
      status: 'ready',
      checks: { redis: true, evaluator: true },
      rules: { version: 1, source: 'file', file_differs: false },
    });

    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    const down = await request(`${t.url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.json).toEqual({
      status: 'not ready',
      checks: { redis: false, evaluator: false },
      rules: { version: 1, source: 'file', file_differs: false },
    });
    expect((await request(`${t.url}/healthz`)).status).toBe(200);

    redis = startRedis(port);
    // The restarted Redis is empty: readiness needs the reconnect and the evaluator schedule re-created.
    await waitFor(async () => (await request(`${t!.url}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: '/readyz 200 again',
    });
  });
});
