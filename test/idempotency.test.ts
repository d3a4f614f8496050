import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { IDEMPOTENCY_KEYS_PER_PRINCIPAL, IdempotencyStore } from '../src/store/idempotency.js';
import { request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';
import { figure } from './support/figures.js';

const RULES = { twilio: { threshold_count: 1000, window_minutes: 10, log_patterns: ['error when making call via twilio'] } };

describe('Idempotency-Key on POST /health/errors and /health/logs', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES);
  });
  afterEach(() => stopTestHttp(t));

  const post = (path: string, body: string, key?: string, type = 'application/json') =>
    request(`${t.url}${path}`, {
      method: 'POST',
      token: tokenOf('alerts'),
      headers: { 'content-type': type, ...(key ? { 'idempotency-key': key } : {}) },
      body,
    });

  it('when a shipper retries a batch with the same key, then it gets the first answer and the errors count once', async () => {
    const first = await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 3 }), 'batch-0001');
    const again = await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 3 }), 'batch-0001');
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    const logs = JSON.stringify({ level: 50, msg: 'error when making call via twilio: 503' });
    const firstLogs = await post('/health/logs', logs, 'batch-0002', 'application/x-ndjson');
    expect((await post('/health/logs', logs, 'batch-0002', 'application/x-ndjson')).json).toEqual(firstLogs.json);
    // A third, different batch is the fence: once it is counted, the repeats would have been too.
    await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 10 }), 'batch-0003');
    await waitFor(async () => (await t.cg.counters.sums()).counts.twilio! >= 14, { what: 'the three batches counted' });
    const finished = async () => (await t.cg.events.getWaitingCount()) + (await t.cg.events.getActiveCount()) === 0;
    await waitFor(finished, { what: 'the events queue drained' });
    expect((await t.cg.counters.sums()).counts.twilio).toBe(14);
  });

  it('when the key is malformed, then 400 and nothing is counted or remembered', async () => {
    const bad = await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 3 }), 'has spaces in it');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('Idempotency-Key');
    const reports = (await t.cg.events.getJobs(['waiting', 'active', 'completed', 'failed'])).filter((j) => j.name === 'error-report');
    expect(reports).toEqual([]);
  });

  it('when the first request was refused, then a retry with the same key is worked afresh', async () => {
    expect((await post('/health/errors', JSON.stringify({ rule: 'nope', count: 1 }), 'batch-0004')).status).toBe(400);
    expect((await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 2 }), 'batch-0004')).status).toBe(202);
  });

  it('when one principal sends 20,000 unique keys, then the next new key is refused with 429, nothing more is stored, and others are unaffected', async () => {
    const store = new IdempotencyStore(t.cg.redis, t.cg.keys);
    const principal = USERS.alerts.name;
    const before = Number(/used_memory:(\d+)/.exec(await t.cg.redis.info('memory'))![1]);
    // As the route does: claim, then store the answer (a typical 202 body).
    const reply = { job_id: 'report-0123456789abcdef', counts: { twilio: 3 } };
    for (let i = 0; i < IDEMPOTENCY_KEYS_PER_PRINCIPAL; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, async (_, j) => {
          const key = `quota-${i + j}`;
          expect((await store.begin(key, principal)).state).toBe('new');
          await store.finish(key, reply);
        }),
      );
    }
    const after = Number(/used_memory:(\d+)/.exec(await t.cg.redis.info('memory'))![1]);
    figure(
      `[idempotency] ${IDEMPOTENCY_KEYS_PER_PRINCIPAL} keys from one principal: +${((after - before) / 1e6).toFixed(1)} MB of Redis memory`,
    );

    const refused = await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 3 }), 'one-key-too-many');
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('too_many_requests');
    expect(refused.json.error.message).toContain('Idempotency-Key');
    expect(await t.cg.redis.exists(t.cg.keys.idempotency('one-key-too-many'))).toBe(0);
    // A key answered before is still answered; a report without a key is still counted; another principal may claim.
    expect(await store.begin('quota-7', principal)).toEqual({ state: 'done', reply });
    expect((await post('/health/errors', JSON.stringify({ rule: 'twilio', count: 3 }))).status).toBe(202);
    expect((await store.begin('other-principal-key', USERS.admin.name)).state).toBe('new');
    const reports = (await t.cg.events.getJobs(['waiting', 'active', 'completed', 'failed'])).filter((j) => j.name === 'error-report');
    expect(reports).toHaveLength(1);
  });
});
