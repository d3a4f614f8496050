import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/http/auth/principals.js';
import type { Callguard } from '../src/app/callguard.js';
import { request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

// Windows far longer than this file runs, so the counters seeded below cannot decay mid-test.
const RULES = {
  twilio: { threshold_count: 1000, window_minutes: 600, log_patterns: ['twilio api error'] },
  plivo: { threshold_count: 1000, window_minutes: 600, log_patterns: ['plivo api error'], queues: ['sms'] },
};

/** Everything a bad request could have touched: holds, counters, clear-since, queues, jobs, audit. */
async function state(cg: Callguard) {
  const paused = await Promise.all([...cg.dispatch].map(async ([n, q]) => [n, await q.isPaused()] as const));
  return {
    holds: await cg.ledger.list(),
    counts: (await cg.counters.sums()).counts,
    clearSince: await cg.ledger.clearSince(),
    covered: [...(await cg.ledger.coveredQueues())].sort(),
    paused: Object.fromEntries(paused),
    events: await cg.events.getJobCounts(),
    audit: (await cg.ledger.audit(500)).map((e) => e.id),
  };
}

const JSON_TYPE = 'application/json';
const NDJSON = 'application/x-ndjson';
const big = (n: number) => 'x'.repeat(n);
const amAlert = (over: Record<string, unknown> = {}) => ({
  status: 'firing',
  labels: { alertname: 'A' },
  annotations: {},
  fingerprint: 'f1',
  ...over,
});
const am = (alerts: unknown[], over: Record<string, unknown> = {}) => JSON.stringify({ version: '4', status: 'firing', alerts, ...over });
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

interface Case {
  route: string;
  as: Role;
  type?: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  code: string;
  method?: string;
}

const CASES: Array<[string, Case]> = [
  // POST /health/pause (admin)
  [
    'pause: truncated JSON',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"reason":', status: 400, code: 'malformed_body' },
  ],
  ['pause: trailing garbage', { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{} x', status: 400, code: 'malformed_body' }],
  [
    'pause: text/plain',
    { route: '/health/pause', as: 'admin', type: 'text/plain', body: '{"reason":"x"}', status: 415, code: 'unsupported_media_type' },
  ],
  [
    'pause: form-urlencoded',
    {
      route: '/health/pause',
      as: 'admin',
      type: 'application/x-www-form-urlencoded',
      body: 'reason=x',
      status: 415,
      code: 'unsupported_media_type',
    },
  ],
  [
    'pause: no content-type',
    { route: '/health/pause', as: 'admin', body: new TextEncoder().encode('{"reason":"x"}'), status: 415, code: 'unsupported_media_type' },
  ],
  [
    'pause: latin1 charset',
    {
      route: '/health/pause',
      as: 'admin',
      type: 'application/json; charset=latin1',
      body: '{}',
      status: 415,
      code: 'unsupported_media_type',
    },
  ],
  [
    'pause: 65 KiB body',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      body: JSON.stringify({ reason: big(65 * 1024) }),
      status: 413,
      code: 'payload_too_large',
    },
  ],
  [
    'pause: gzip bomb (inflates past the limit)',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      headers: { 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ reason: big(200 * 1024) })),
      status: 413,
      code: 'payload_too_large',
    },
  ],
  [
    'pause: unsupported content-encoding',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      headers: { 'content-encoding': 'compress' },
      body: '{}',
      status: 415,
      code: 'unsupported_media_type',
    },
  ],
  [
    'pause: invalid UTF-8',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      body: Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      status: 400,
      code: 'malformed_body',
    },
  ],
  ['pause: array body', { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '[]', status: 400, code: 'invalid_request' }],
  ['pause: string body', { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '"pause"', status: 400, code: 'invalid_request' }],
  ['pause: null body', { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: 'null', status: 400, code: 'invalid_request' }],
  [
    'pause: typo "queue" (would widen to all queues)',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"queue":["calls"]}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: queues as a string',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"queues":"calls"}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: empty queues list',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"queues":[]}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: unknown queue',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"queues":["calls","fax"]}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: until not ISO',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"until":"tomorrow"}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: until in the past',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      body: '{"until":"2020-01-01T00:00:00Z"}',
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'pause: reason a number',
    { route: '/health/pause', as: 'admin', type: JSON_TYPE, body: '{"reason":42}', status: 400, code: 'invalid_request' },
  ],
  [
    'pause: reason too long',
    {
      route: '/health/pause',
      as: 'admin',
      type: JSON_TYPE,
      body: JSON.stringify({ reason: big(1001) }),
      status: 400,
      code: 'invalid_request',
    },
  ],
  // POST /health/resume (admin)
  [
    'resume: unknown queue',
    { route: '/health/resume', as: 'admin', type: JSON_TYPE, body: '{"queues":["fax"]}', status: 400, code: 'invalid_request' },
  ],
  [
    'resume: unknown field',
    { route: '/health/resume', as: 'admin', type: JSON_TYPE, body: '{"all":true}', status: 400, code: 'invalid_request' },
  ],
  [
    'resume: malformed JSON',
    { route: '/health/resume', as: 'admin', type: JSON_TYPE, body: "{'queues':['calls']}", status: 400, code: 'malformed_body' },
  ],
  [
    'resume: text/plain',
    { route: '/health/resume', as: 'admin', type: 'text/plain', body: '{}', status: 415, code: 'unsupported_media_type' },
  ],
  // POST /health/alert (alerts)
  ['alert: empty body', { route: '/health/alert', as: 'alerts', type: JSON_TYPE, body: '', status: 400, code: 'invalid_request' }],
  [
    'alert: Alertmanager version 3',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: am([amAlert()], { version: '3' }),
      status: 400,
      code: 'invalid_request',
    },
  ],
  ['alert: no alerts', { route: '/health/alert', as: 'alerts', type: JSON_TYPE, body: am([]), status: 400, code: 'invalid_request' }],
  [
    'alert: status pending',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: am([amAlert({ status: 'pending' })]),
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'alert: non-string label',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: am([amAlert({ labels: { alertname: 'A', severity: 3 } })]),
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'alert: 501 alerts',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: am(Array.from({ length: 501 }, (_, i) => ({ status: 'firing', labels: { a: String(i) } }))),
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'alert: generic with unknown field',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: '{"rule":"twilio","paused_by":"x"}',
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'alert: generic with unknown rule',
    { route: '/health/alert', as: 'alerts', type: JSON_TYPE, body: '{"rule":"nope"}', status: 400, code: 'unknown_rule' },
  ],
  [
    'alert: unknown queue label',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: am([amAlert({ labels: { alertname: 'A', callguard_queues: 'fax' } })]),
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'alert: JSON array body',
    { route: '/health/alert', as: 'alerts', type: JSON_TYPE, body: '[{"rule":"twilio"}]', status: 400, code: 'invalid_request' },
  ],
  [
    'alert: deeply nested JSON',
    { route: '/health/alert', as: 'alerts', type: JSON_TYPE, body: `{"alerts":${deep(20_000)}}`, status: 400, code: 'invalid_request' },
  ],
  [
    'alert: text/plain',
    { route: '/health/alert', as: 'alerts', type: 'text/plain', body: '{"rule":"twilio"}', status: 415, code: 'unsupported_media_type' },
  ],
  [
    'alert: body over 1 MiB (its own limit: a group of 500 alerts)',
    {
      route: '/health/alert',
      as: 'alerts',
      type: JSON_TYPE,
      body: JSON.stringify({ rule: 'twilio', reason: big(1024 * 1024 + 1) }),
      status: 413,
      code: 'payload_too_large',
    },
  ],
  // POST /health/errors (alerts)
  [
    'errors: unknown rule',
    { route: '/health/errors', as: 'alerts', type: JSON_TYPE, body: '{"rule":"nope"}', status: 400, code: 'unknown_rule' },
  ],
  [
    'errors: one good, one unknown rule',
    {
      route: '/health/errors',
      as: 'alerts',
      type: JSON_TYPE,
      body: '[{"rule":"twilio"},{"rule":"nope"}]',
      status: 400,
      code: 'unknown_rule',
    },
  ],
  [
    'errors: count 0',
    { route: '/health/errors', as: 'alerts', type: JSON_TYPE, body: '{"rule":"twilio","count":0}', status: 400, code: 'invalid_request' },
  ],
  [
    'errors: fractional count',
    { route: '/health/errors', as: 'alerts', type: JSON_TYPE, body: '{"rule":"twilio","count":1.5}', status: 400, code: 'invalid_request' },
  ],
  [
    'errors: count as a string',
    { route: '/health/errors', as: 'alerts', type: JSON_TYPE, body: '{"rule":"twilio","count":"3"}', status: 400, code: 'invalid_request' },
  ],
  ['errors: empty list', { route: '/health/errors', as: 'alerts', type: JSON_TYPE, body: '[]', status: 400, code: 'invalid_request' }],
  [
    'errors: counts adding past the limit',
    {
      route: '/health/errors',
      as: 'alerts',
      type: JSON_TYPE,
      body: '[{"rule":"twilio","count":1000000},{"rule":"twilio","count":1}]',
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'errors: 1001 reports',
    {
      route: '/health/errors',
      as: 'alerts',
      type: JSON_TYPE,
      body: JSON.stringify(Array.from({ length: 1001 }, () => ({ rule: 'twilio' }))),
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'errors: ndjson is not accepted here',
    { route: '/health/errors', as: 'alerts', type: NDJSON, body: '{"rule":"twilio"}\n', status: 415, code: 'unsupported_media_type' },
  ],
  // POST /health/logs (alerts)
  [
    'logs: malformed NDJSON line',
    {
      route: '/health/logs',
      as: 'alerts',
      type: NDJSON,
      body: '{"level":"error","message":"twilio api error"}\n{"level":\n',
      status: 400,
      code: 'malformed_body',
    },
  ],
  [
    'logs: NDJSON line that is not an object',
    {
      route: '/health/logs',
      as: 'alerts',
      type: NDJSON,
      body: '{"level":"error","message":"twilio api error"}\n42\n',
      status: 400,
      code: 'invalid_request',
    },
  ],
  ['logs: only blank lines', { route: '/health/logs', as: 'alerts', type: NDJSON, body: '\n\n  \n', status: 400, code: 'invalid_request' }],
  [
    'logs: JSON array with a string',
    {
      route: '/health/logs',
      as: 'alerts',
      type: JSON_TYPE,
      body: '[{"level":"error","message":"twilio api error"},"twilio api error"]',
      status: 400,
      code: 'invalid_request',
    },
  ],
  [
    'logs: text/plain',
    {
      route: '/health/logs',
      as: 'alerts',
      type: 'text/plain',
      body: 'error twilio api error',
      status: 415,
      code: 'unsupported_media_type',
    },
  ],
  [
    'logs: 70 KiB of NDJSON',
    {
      route: '/health/logs',
      as: 'alerts',
      type: NDJSON,
      body: `${JSON.stringify({ level: 'error', message: `twilio api error ${big(500)}` })}\n`.repeat(140),
      status: 413,
      code: 'payload_too_large',
    },
  ],
  // GET /health/audit (viewer)
  ['audit: limit 0', { route: '/health/audit?limit=0', as: 'viewer', method: 'GET', body: '', status: 400, code: 'invalid_request' }],
  ['audit: limit 501', { route: '/health/audit?limit=501', as: 'viewer', method: 'GET', body: '', status: 400, code: 'invalid_request' }],
  [
    'audit: limit not a number',
    { route: '/health/audit?limit=ten', as: 'viewer', method: 'GET', body: '', status: 400, code: 'invalid_request' },
  ],
];

describe('malformed, oversized and wrong-type requests: 4xx JSON, state unchanged', () => {
  let t: TestHttp;
  beforeAll(async () => {
    // No worker: any job a bad request enqueued would stay visible in the events queue counts.
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
    // Something to lose: a manual hold on calls and counts on both rules.
    await t.cg.control.pause({ by: 'setup', queues: ['calls'], reason: 'pre-existing hold' });
    const twilio = t.cg.rules.find((r) => r.name === 'twilio')!;
    await t.cg.counters.record(twilio, 7);
  });
  afterAll(() => stopTestHttp(t));

  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES)('%s → %s', async (_name, c) => {
    const before = await state(t.cg);
    const headers: Record<string, string> = { authorization: `Bearer ${tokenOf(c.as)}`, ...c.headers };
    if (c.type) headers['content-type'] = c.type;
    const method = c.method ?? 'POST';
    const reply = await request(`${t.url}${c.route}`, { method, headers, body: method === 'GET' ? null : (c.body as BodyInit) });
    expect(reply.status, reply.text.slice(0, 300)).toBe(c.status);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.json).toEqual({ error: { code: c.code, message: expect.any(String) } });
    expect(await state(t.cg)).toEqual(before);
  });

  it('after every bad request, the seeded hold and counts are still there', async () => {
    const s = await state(t.cg);
    expect(s.holds.map((h) => h.by)).toEqual(['setup']);
    expect(s.counts).toEqual({ twilio: 7, plivo: 0 });
    expect(s.paused).toEqual({ calls: true, sms: false });
  });
});
