import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = {
  twilio: {
    threshold_count: 4,
    window_minutes: 10,
    log_patterns: ['twilio api error', 'error when making call via twilio'],
    queues: ['calls'],
  },
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
    const reply = await postJson(
      `${t.url}/health/errors`,
      [{ rule: 'twilio', count: 2 }, { rule: 'soniox' }, { rule: 'twilio', count: 3 }],
      alerts,
    );
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
    expect(reply.json).toEqual({
      records: 8,
      matched: 3,
      dropped: 1,
      drops: [{ index: 6, reason: 'no level (level, severity, levelname, levelno)' }],
      counts: { twilio: 2, soniox: 1 },
      job_id: expect.any(String),
    });
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
    expect(reply.json).toEqual({ records: 1, matched: 0, dropped: 0, drops: [], counts: {}, job_id: null });
    expect(await t.cg.events.getJobCountByTypes('waiting', 'delayed')).toBe(0);
  });

  it('when loguru serialize=True lines and Python logging records arrive, then their levels are read as Python’s', async () => {
    const loguru = (name: string, no: number, message: string) => ({
      text: `${name} | ${message}\n`,
      record: { level: { name, no, icon: '' }, message, exception: null, extra: {} },
    });
    const body = ndjson([
      loguru('ERROR', 40, 'twilio api error 20003'),
      loguru('WARNING', 30, 'twilio api error, retrying'),
      loguru('INFO', 20, 'twilio api error count reset'),
      { levelname: 'WARNING', levelno: 30, message: 'error when making call via twilio' },
      { levelno: 30, message: 'twilio api error' },
      { levelno: 20, message: 'twilio api error' },
      {
        levelname: 'ERROR',
        levelno: 40,
        message: 'dial failed',
        exc_text: 'Traceback (most recent call last):\nSonioxError: soniox transcription failed',
      },
    ]);
    const reply = await postLogs(t, body, 'application/x-ndjson');
    expect(reply.json).toEqual({
      records: 7,
      matched: 5,
      dropped: 0,
      drops: [],
      counts: { twilio: 4, soniox: 1 },
      job_id: expect.any(String),
    });
  });

  it('when level_scale names the scale, then bare numbers are read on it; names and Python records are not', async () => {
    const body = ndjson([
      { severity: 3, message: 'twilio api error' },
      { severity: 6, message: 'twilio api error' },
      { severity: 9, message: 'twilio api error' },
      { severity: 'warning', message: 'twilio api error' },
      { levelno: 40, message: 'soniox transcription failed' },
    ]);
    const syslog = await request(`${t.url}/health/logs?level_scale=syslog`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
      ...alerts,
    });
    expect(syslog.json).toMatchObject({
      records: 5,
      matched: 3,
      dropped: 1,
      drops: [{ index: 2, reason: 'level 9 is not on the syslog scale' }],
      counts: { twilio: 2, soniox: 1 },
    });
    const python = await request(`${t.url}/health/logs?level_scale=python`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { level: 30, msg: 'twilio api error' },
        { level: 20, msg: 'twilio api error' },
      ]),
      ...alerts,
    });
    expect(python.json).toMatchObject({ matched: 1, counts: { twilio: 1 } });
    const pino = await postLogs(t, JSON.stringify({ level: 30, msg: 'twilio api error' }), 'application/json');
    expect(pino.json).toMatchObject({ matched: 0, dropped: 0, job_id: null });
  });

  it('when level_scale is not a known scale, then 400 and nothing is enqueued', async () => {
    for (const query of ['level_scale=loguru', 'level_scale=', 'level_scale=pino&level_scale=python']) {
      const reply = await request(`${t.url}/health/logs?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"level":50,"msg":"twilio api error"}',
        ...alerts,
      });
      expect(reply.status, query).toBe(400);
      expect(reply.json.error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('query.level_scale') });
    }
    expect(await t.cg.events.getJobCountByTypes('waiting', 'delayed')).toBe(0);
  });

  it('when many records cannot be read, then all are counted and the first ten reasons are listed by index', async () => {
    const body = ndjson([
      { level: 'error', message: 'twilio api error' },
      ...Array.from({ length: 12 }, (_, i) => ({ level: `loud${i}`, message: 'x' })),
    ]);
    const reply = await postLogs(t, body, 'application/x-ndjson');
    expect(reply.json).toMatchObject({ records: 13, matched: 1, dropped: 12 });
    expect(reply.json.drops).toHaveLength(10);
    expect(reply.json.drops[0]).toEqual({ index: 1, reason: 'unknown level name "loud0"' });
    expect(reply.json.drops[9].index).toBe(10);
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
    // The hold is written first, the BullMQ pause follows it.
    await waitFor(() => t.cg.dispatch.get('calls')!.isPaused());
    expect(await t.cg.dispatch.get('sms')!.isPaused()).toBe(false);
  });
});
