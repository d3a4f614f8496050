import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signCallguard } from '../src/http/middleware/signature.js';
import { waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type Reply, type TestHttp } from './support/http.js';

const QUEUES = 'outbound-calls,callbacks,sms';
const RULES = {
  carrier_a_failures: { threshold_count: 100, window_minutes: 5, log_patterns: ['carrier-a rejected invite'] },
  carrier_b_failures: { threshold_count: 100, window_minutes: 5, log_patterns: ['carrier-b rejected invite'], queues: ['callbacks'] },
  twilio_failures: { threshold_count: 100, window_minutes: 5, log_patterns: ['twilio api error'], queues: ['outbound-calls'] },
};
const WEBHOOK_SECRET = 'webhook-secret-5f4e3d2c1b0a-9f8e7d6c5b4a';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8');

/** Waits until the events worker has handled the job the route enqueued. */
async function handled(t: TestHttp, reply: Reply): Promise<void> {
  expect(reply.status, reply.text).toBe(202);
  const id = reply.json.job_id as string;
  await waitFor(async () => {
    const state = await t.cg.events.getJobState(id);
    if (state === 'failed') throw new Error(`alert job ${id} failed: ${(await t.cg.events.getJob(id))?.failedReason}`);
    return state === 'completed';
  });
}

async function snapshot(t: TestHttp) {
  const holds = await t.cg.ledger.list();
  const paused = Object.fromEntries(await Promise.all([...t.cg.dispatch].map(async ([n, q]) => [n, await q.isPaused()] as const)));
  return { holds: holds.map((h) => ({ id: h.id, scope: h.scope, by: h.by })), paused, audit: (await t.cg.ledger.audit(500)).length };
}

/** Every `alert` job in the events queue, whatever its state (completed ones are kept). */
async function alertJobs(t: TestHttp) {
  const jobs = await t.cg.events.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
  return jobs.filter((j) => j.name === 'alert').map((j) => j.id);
}

const post = (t: TestHttp, body: string, headers: Record<string, string> = {}) =>
  postJson(`${t.url}/health/alert`, body, { headers: { authorization: `Bearer ${tokenOf('alerts')}`, ...headers } });

describe('alert webhooks end to end (route → events queue → worker → holds → BullMQ)', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: QUEUES, CALLGUARD_WEBHOOK_SECRET: WEBHOOK_SECRET });
  });
  afterEach(() => stopTestHttp(t));

  it('when Alertmanager fires, then each alert holds its scope; when it resolves, then exactly those holds go', async () => {
    const firing = await post(t, fixture('alertmanager-firing'));
    expect(firing.json.alerts).toEqual([
      { hold: 'alert:alertmanager:8d1f2a3b4c5d6e7f', status: 'firing', name: 'SipTrunkErrors' },
      { hold: 'alert:alertmanager:0a9b8c7d6e5f4a3b', status: 'firing', name: 'SipTrunkErrors' },
    ]);
    await handled(t, firing);
    const held = await snapshot(t);
    expect(held.holds).toEqual([
      { id: 'alert:alertmanager:8d1f2a3b4c5d6e7f', scope: ['outbound-calls', 'callbacks'], by: 'alert:alertmanager' },
      // No callguard_queues label: the scope of the rule its `rule` label names.
      { id: 'alert:alertmanager:0a9b8c7d6e5f4a3b', scope: ['callbacks'], by: 'alert:alertmanager' },
    ]);
    expect(held.paused).toEqual({ 'outbound-calls': true, callbacks: true, sms: false });

    const status = await request(`${t.url}/health/service`, { token: tokenOf('viewer') });
    expect(status.json).toMatchObject({ is_paused: true, paused_by: 'alert:alertmanager', pause_reason: 'SipTrunkErrors: SIP 503s from carrier-a above 5%', source_rule: 'carrier_a_failures' });
    expect(status.json.holds[0]).toMatchObject({ kind: 'alert', alert_name: 'SipTrunkErrors', source: 'alertmanager', until: null });
    expect(Date.parse(status.json.holds[0].since)).toBeGreaterThan(Date.now() - 60_000);

    await handled(t, await post(t, fixture('alertmanager-resolved')));
    const after = await snapshot(t);
    expect(after.holds).toEqual([]);
    expect(after.paused).toEqual({ 'outbound-calls': false, callbacks: false, sms: false });
    const audit = await t.cg.ledger.audit(10);
    expect(audit.filter((e) => e.event === 'hold-released').map((e) => [e.hold, e.by])).toEqual([
      ['alert:alertmanager:0a9b8c7d6e5f4a3b', 'alert:alertmanager'],
      ['alert:alertmanager:8d1f2a3b4c5d6e7f', 'alert:alertmanager'],
    ]);
  });

  it('when Alertmanager repeats a firing notice, then nothing changes (idempotent)', async () => {
    await handled(t, await post(t, fixture('alertmanager-firing')));
    const first = await snapshot(t);
    for (let i = 0; i < 3; i++) await handled(t, await post(t, fixture('alertmanager-firing')));
    expect(await snapshot(t)).toEqual(first);
  });

  it('when Grafana fires and resolves, then its holds come and go (unlabelled alert: all queues)', async () => {
    await handled(t, await post(t, fixture('grafana-firing')));
    const held = await snapshot(t);
    expect(held.holds).toEqual([
      { id: 'alert:grafana:c2a4e6f8a0b1c3d5', scope: ['outbound-calls'], by: 'alert:grafana' },
      { id: 'alert:grafana:5e4d3c2b1a0f9e8d', scope: 'all', by: 'alert:grafana' },
    ]);
    expect(held.paused).toEqual({ 'outbound-calls': true, callbacks: true, sms: true });
    await handled(t, await post(t, fixture('grafana-resolved')));
    expect(await snapshot(t)).toMatchObject({ holds: [], paused: { 'outbound-calls': false, callbacks: false, sms: false } });
  });

  it('when a resolved notice arrives for an alert that never fired, then nothing changes', async () => {
    await handled(t, await post(t, fixture('grafana-firing')));
    const before = await snapshot(t);
    await handled(t, await post(t, JSON.stringify({ id: 'never-fired', status: 'resolved' })));
    const am = JSON.parse(fixture('alertmanager-resolved'));
    await handled(t, await post(t, JSON.stringify(am)));
    expect(await snapshot(t)).toEqual(before);
  });

  it('when the generic form names a rule, then the hold takes the rule scope and resolves by the same id', async () => {
    await handled(t, await post(t, JSON.stringify({ rule: 'twilio_failures', reason: 'pager says twilio is down' })));
    expect((await snapshot(t)).holds).toEqual([{ id: 'alert:generic:twilio_failures', scope: ['outbound-calls'], by: 'alert:generic' }]);
    await handled(t, await post(t, JSON.stringify({ rule: 'twilio_failures', status: 'resolved' })));
    expect((await snapshot(t)).holds).toEqual([]);
  });

  it('when an admin resumes by hand while the alert still fires, then the next repeated firing notice pauses again', async () => {
    await handled(t, await post(t, fixture('grafana-firing')));
    const resumed = await postJson(`${t.url}/health/resume`, {}, { token: tokenOf('admin') });
    expect(resumed.json.released).toHaveLength(2);
    expect((await snapshot(t)).holds).toEqual([]);
    await handled(t, await post(t, fixture('grafana-firing')));
    expect((await snapshot(t)).holds).toHaveLength(2);
  });

  it('when an alert names a queue that is not configured, then 400 and nothing is enqueued', async () => {
    const body = JSON.parse(fixture('alertmanager-firing'));
    body.alerts[0].labels.callguard_queues = 'outbound-calls,fax';
    const reply = await post(t, JSON.stringify(body));
    expect(reply.status).toBe(400);
    expect(reply.json.error.message).toContain('fax');
    expect(await alertJobs(t)).toEqual([]);
    expect((await snapshot(t)).holds).toEqual([]);
  });
});

describe('webhook signatures', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: QUEUES, CALLGUARD_WEBHOOK_SECRET: WEBHOOK_SECRET });
  });
  afterEach(() => stopTestHttp(t));

  const body = () => fixture('grafana-firing');
  const hmac = (secret: string, ...parts: string[]) => {
    const mac = createHmac('sha256', secret);
    for (const p of parts) mac.update(p);
    return mac.digest('hex');
  };
  const send = (data: string, headers: Record<string, string>) => postJson(`${t.url}/health/alert`, data, { headers });
  const nowS = () => String(Math.floor(Date.now() / 1000));

  it('when signed with our timestamped header, then accepted and handled', async () => {
    const reply = await send(body(), { 'x-callguard-signature': signCallguard(Buffer.from(body()), WEBHOOK_SECRET) });
    await handled(t, reply);
    expect((await snapshot(t)).holds).toHaveLength(2);
  });

  it('when Grafana signs the raw body (no timestamp header), then accepted', async () => {
    const reply = await send(body(), { 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()) });
    await handled(t, reply);
  });

  it('when Grafana signs "<timestamp>:<body>" with the timestamp header, then accepted', async () => {
    const ts = nowS();
    const reply = await send(body(), { 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${ts}:`, body()), 'x-grafana-alerting-timestamp': ts });
    await handled(t, reply);
  });

  const stale = String(Math.floor(Date.now() / 1000) - 10 * 60);
  const rejected: Array<[string, () => Record<string, string>, () => string]> = [
    ['ours, wrong secret', () => ({ 'x-callguard-signature': signCallguard(Buffer.from(body()), 'another-secret-entirely-123') }), body],
    ['ours, stale timestamp', () => ({ 'x-callguard-signature': `t=${stale},v1=${hmac(WEBHOOK_SECRET, `${stale}.`, body())}` }), body],
    ['ours, future timestamp', () => {
      const t2 = String(Math.floor(Date.now() / 1000) + 10 * 60);
      return { 'x-callguard-signature': `t=${t2},v1=${hmac(WEBHOOK_SECRET, `${t2}.`, body())}` };
    }, body],
    ['ours, tampered body', () => ({ 'x-callguard-signature': signCallguard(Buffer.from(body()), WEBHOOK_SECRET) }), () => body().replace('outbound-calls', 'callbacks')],
    ['ours, malformed header', () => ({ 'x-callguard-signature': 'sha256=abc' }), body],
    ['Grafana, wrong secret', () => ({ 'x-grafana-alerting-signature': hmac('another-secret-entirely-123', body()) }), body],
    ['Grafana, stale timestamp', () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${stale}:`, body()), 'x-grafana-alerting-timestamp': stale }), body],
    ['Grafana, tampered body', () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()) }), () => body().replace('"firing"', '"resolved"')],
    ['Grafana, timestamp swapped after signing', () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${stale}:`, body()), 'x-grafana-alerting-timestamp': nowS() }), body],
  ];

  it.each(rejected)('when the signature is bad (%s), then 401 and nothing is enqueued', async (_what, headers, data) => {
    const reply = await send(data(), headers());
    expect(reply.status).toBe(401);
    expect(reply.json.error.code).toBe('unauthorized');
    expect(reply.json.error.message).toMatch(/signature/);
    expect((await snapshot(t)).holds).toEqual([]);
    expect(await alertJobs(t)).toEqual([]);
  });

  it('when a signature is presented to another route, then it does not authenticate there', async () => {
    const data = JSON.stringify({ reason: 'signed pause attempt' });
    const reply = await postJson(`${t.url}/health/pause`, data, { headers: { 'x-callguard-signature': signCallguard(Buffer.from(data), WEBHOOK_SECRET) } });
    expect(reply.status).toBe(401);
    expect((await snapshot(t)).holds).toEqual([]);
  });

  it('when both a bearer token and a signature are sent, then the bearer token decides', async () => {
    const reply = await send(body(), { authorization: `Bearer ${tokenOf('viewer')}`, 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()) });
    expect(reply.status).toBe(403);
  });
});

describe('webhook signatures without CALLGUARD_WEBHOOK_SECRET', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: QUEUES }, { worker: false });
  });
  afterEach(() => stopTestHttp(t));

  it('when a request is signed, then it is not accepted: only bearer tokens work', async () => {
    const data = fixture('grafana-firing');
    const reply = await postJson(`${t.url}/health/alert`, data, {
      headers: { 'x-callguard-signature': signCallguard(Buffer.from(data), 'some-secret-the-server-lacks') },
    });
    expect(reply.status).toBe(401);
    expect(await t.cg.events.getJobCountByTypes('waiting')).toBe(0);
  });
});
