import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

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
});
