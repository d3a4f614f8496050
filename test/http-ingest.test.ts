import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = {
  twilio: { threshold_count: 4, window_minutes: 10, log_patterns: ['twilio api error', 'error when making call via twilio'], queues: ['calls'] },
  soniox: { threshold_count: 100, window_minutes: 10, log_patterns: ['soniox transcription failed'], min_level: 'error' },
};
const alerts = { token: tokenOf('alerts') };

const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
const postLogs = (t: TestHttp, body: string, type: string) =>
  request(`${t.url}/health/logs`, { method: 'POST', headers: { 'content-type': type }, body, ...alerts });

describe('POST /health/errors and /health/logs (worker off: the enqueued job is inspected)', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
  });
  afterEach(() => stopTestHttp(t));

  const jobData = async (id: string) => (await t.cg.events.getJob(id))!;

  it('when one report is posted, then one error-report job {counts} is enqueued and 202 names it', async () => {
    const reply = await postJson(`${t.url}/health/errors`, { rule: 'twilio' }, alerts);
    expect(reply.status).toBe(202);
    expect(reply.json).toEqual({ job_id: expect.any(String), counts: { twilio: 1 } });
    const job = await jobData(reply.json.job_id);
    expect(job.name).toBe('error-report');
    expect(job.data).toEqual({ counts: { twilio: 1 } });
  });

  it('when a list is posted, then it is coalesced into one job', async () => {
    const reply = await postJson(`${t.url}/health/errors`, [{ rule: 'twilio', count: 2 }, { rule: 'soniox' }, { rule: 'twilio', count: 3 }], alerts);
    expect(reply.json.counts).toEqual({ twilio: 5, soniox: 1 });
    expect((await jobData(reply.json.job_id)).data).toEqual({ counts: { twilio: 5, soniox: 1 } });
    expect(await t.cg.events.getJobCountByTypes('waiting')).toBe(1);
  });

  it('when Vector sends NDJSON, then matching records become one job; levels and callguard’s own lines are respected', async () => {
    const body = ndjson([
      { timestamp: '2025-03-04T10:00:00Z', level: 'error', message: 'Twilio API error 20003 on call CA123', host: 'api-1' },
      { timestamp: '2025-03-04T10:00:01Z', level: 'ERROR', message: 'error when making call via twilio: 503' },
      { timestamp: '2025-03-04T10:00:02Z', level: 'info', message: 'twilio api error count is now 0' },
      { timestamp: '2025-03-04T10:00:03Z', level: 'warn', message: 'soniox transcription failed (retrying)' },
      { timestamp: '2025-03-04T10:00:04Z', level: 'error', message: 'soniox transcription failed' },
      { level: 'error', message: 'twilio api error', callguard: true },
      { message: 'twilio api error without any level' },
      { level: 'error', message: 'database is slow' },
    ]);
    const reply = await postLogs(t, body, 'application/x-ndjson');
    expect(reply.status).toBe(202);
    expect(reply.json).toEqual({ records: 8, matched: 3, counts: { twilio: 2, soniox: 1 }, job_id: expect.any(String) });
    expect((await jobData(reply.json.job_id)).data).toEqual({ counts: { twilio: 2, soniox: 1 } });
  });

  it('when Fluent Bit sends a JSON array (log + level fields), then it is matched the same way', async () => {
    const body = JSON.stringify([
      { date: 1709546400.123, log: 'twilio request failed? no: twilio api error 503', level: 'error' },
      { date: 1709546401.456, log: 'error when making call via twilio', severity: 'critical' },
    ]);
    const reply = await postLogs(t, body, 'application/json');
    expect(reply.json).toMatchObject({ records: 2, matched: 2, counts: { twilio: 2 } });
  });

  it('when one JSON record (not an array) is sent, then it counts as one record', async () => {
    const reply = await postLogs(t, JSON.stringify({ level: 50, msg: 'twilio api error' }), 'application/json; charset=utf-8');
    expect(reply.json).toMatchObject({ records: 1, matched: 1, counts: { twilio: 1 } });
  });

  it('when nothing matches, then 202 and no job at all', async () => {
    const reply = await postLogs(t, ndjson([{ level: 'error', message: 'unrelated' }]), 'application/x-ndjson');
    expect(reply.json).toEqual({ records: 1, matched: 0, counts: {}, job_id: null });
    expect(await t.cg.events.getJobCountByTypes('waiting', 'delayed')).toBe(0);
  });

  it('when NDJSON arrives gzip-compressed, then it is inflated and matched', async () => {
    const { gzipSync } = await import('node:zlib');
    const reply = await request(`${t.url}/health/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: gzipSync(ndjson([{ level: 'error', message: 'twilio api error' }])),
      ...alerts,
    });
    expect(reply.json).toMatchObject({ matched: 1, counts: { twilio: 1 } });
  });
});

describe('log ingest through the real worker', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
  });
  afterEach(() => stopTestHttp(t));

  it('when a service in another language ships enough matching lines, then its rule pauses its queue', async () => {
    const lines = Array.from({ length: 4 }, (_, i) => ({ level: 'error', message: `Twilio API error #${i}` }));
    const reply = await postLogs(t, ndjson(lines), 'application/x-ndjson');
    expect(reply.json.counts).toEqual({ twilio: 4 });
    await waitFor(async () => (await t.cg.ledger.list()).some((h) => h.id === 'rule:twilio'));
    expect(await t.cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(await t.cg.dispatch.get('sms')!.isPaused()).toBe(false);
  });
});
