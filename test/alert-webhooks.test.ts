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
      // `by` is the principal that sent the alert (the alerts token named "alertmanager").
      { id: 'alert:alertmanager:8d1f2a3b4c5d6e7f', scope: ['outbound-calls', 'callbacks'], by: 'alertmanager' },
      // No callguard_queues label: the scope of the rule its `rule` label names.
      { id: 'alert:alertmanager:0a9b8c7d6e5f4a3b', scope: ['callbacks'], by: 'alertmanager' },
    ]);
    expect(held.paused).toEqual({ 'outbound-calls': true, callbacks: true, sms: false });

    const status = await request(`${t.url}/health/service`, { token: tokenOf('viewer') });
    expect(status.json).toMatchObject({
      is_paused: true,
      paused_by: 'alertmanager',
      pause_reason: 'SipTrunkErrors: SIP 503s from carrier-a above 5%',
      source_rule: 'carrier_a_failures',
    });
    expect(status.json.holds[0]).toMatchObject({ kind: 'alert', alert_name: 'SipTrunkErrors', source: 'alertmanager', until: null });
    expect(Date.parse(status.json.holds[0].since)).toBeGreaterThan(Date.now() - 60_000);

    await handled(t, await post(t, fixture('alertmanager-resolved')));
    const after = await snapshot(t);
    expect(after.holds).toEqual([]);
    expect(after.paused).toEqual({ 'outbound-calls': false, callbacks: false, sms: false });
    const audit = await t.cg.ledger.audit(10);
    expect(audit.filter((e) => e.event === 'hold-released').map((e) => [e.hold, e.by])).toEqual([
      ['alert:alertmanager:0a9b8c7d6e5f4a3b', 'alertmanager'],
      ['alert:alertmanager:8d1f2a3b4c5d6e7f', 'alertmanager'],
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
      { id: 'alert:grafana:c2a4e6f8a0b1c3d5', scope: ['outbound-calls'], by: 'alertmanager' },
      { id: 'alert:grafana:5e4d3c2b1a0f9e8d', scope: 'all', by: 'alertmanager' },
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

  it('when Alertmanager sends a group of 500 alerts (about 300 KiB), then every alert is accepted, by token and by signature', async () => {
    const am = JSON.parse(fixture('alertmanager-firing'));
    const group = (tag: string) => ({
      ...am,
      alerts: Array.from({ length: 500 }, (_, i) => ({ ...am.alerts[0], fingerprint: `${tag}${i.toString(16).padStart(12, '0')}` })),
    });
    const byToken = JSON.stringify(group('a'));
    expect(byToken.length).toBeGreaterThan(256 * 1024);
    const reply = await post(t, byToken);
    expect(reply.json.alerts).toHaveLength(500);
    expect(reply.json.rejected).toEqual([]);
    await handled(t, reply);

    const body = JSON.stringify(group('b'));
    const signed = await postJson(`${t.url}/health/alert`, body, {
      headers: { 'x-callguard-signature': signCallguard(Buffer.from(body), WEBHOOK_SECRET) },
    });
    expect(signed.json.alerts).toHaveLength(500);
    await handled(t, signed);
  });

  it('when a queue an alert named is no longer configured, then its firing notice is refused but its resolved notice lifts the hold', async () => {
    const am = JSON.parse(fixture('alertmanager-firing'));
    const gone = (status: string) => ({
      ...am,
      status,
      alerts: [{ ...am.alerts[0], status, labels: { ...am.alerts[0].labels, callguard_queues: 'fax' } }],
    });
    const before = await snapshot(t);
    await handled(t, await post(t, JSON.stringify({ ...am, alerts: [am.alerts[0]] })));
    expect((await snapshot(t)).holds.map((h) => h.id)).toEqual(['alert:alertmanager:8d1f2a3b4c5d6e7f']);
    const refused = await post(t, JSON.stringify(gone('firing')));
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/unknown dispatch queue\(s\) fax/);
    const resolved = await post(t, JSON.stringify(gone('resolved')));
    expect(resolved.json.alerts).toEqual([{ hold: 'alert:alertmanager:8d1f2a3b4c5d6e7f', status: 'resolved', name: 'SipTrunkErrors' }]);
    await handled(t, resolved);
    expect((await snapshot(t)).holds).toEqual([]);
    expect((await snapshot(t)).paused).toEqual(before.paused);
  });

  it('when the generic form names a rule, then the hold takes the rule scope and resolves by the same id', async () => {
    await handled(t, await post(t, JSON.stringify({ rule: 'twilio_failures', reason: 'pager says twilio is down' })));
    expect((await snapshot(t)).holds).toEqual([{ id: 'alert:generic:twilio_failures', scope: ['outbound-calls'], by: 'alertmanager' }]);
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

  it('when every alert of a group names a queue that is not configured, then 400 and nothing is enqueued', async () => {
    const body = JSON.parse(fixture('alertmanager-firing'));
    for (const a of body.alerts) a.labels.callguard_queues = 'outbound-calls,fax';
    const reply = await post(t, JSON.stringify(body));
    expect(reply.status).toBe(400);
    expect(reply.json.error.message).toContain('fax');
    expect(await alertJobs(t)).toEqual([]);
    expect((await snapshot(t)).holds).toEqual([]);
  });

  describe('intake never fails open (issue 10, item 1)', () => {
    it('when one alert of a group is bad, then the others take effect and the bad one is reported by index', async () => {
      const body = JSON.parse(fixture('alertmanager-firing'));
      body.alerts[0].labels.callguard_queues = 'outbound-calls,fax';
      const reply = await post(t, JSON.stringify(body));
      expect(reply.json.rejected).toEqual([{ index: 0, error: expect.stringContaining('fax') }]);
      expect(reply.json.alerts).toEqual([{ hold: 'alert:alertmanager:0a9b8c7d6e5f4a3b', status: 'firing', name: 'SipTrunkErrors' }]);
      await handled(t, reply);
      expect((await snapshot(t)).holds.map((h) => h.id)).toEqual(['alert:alertmanager:0a9b8c7d6e5f4a3b']);
    });

    it('when an alert is malformed (numeric label), then the rest of its group still pauses', async () => {
      const body = JSON.parse(fixture('alertmanager-firing'));
      body.alerts[1].labels.severity = 2;
      const reply = await post(t, JSON.stringify(body));
      expect(reply.json.rejected).toEqual([{ index: 1, error: expect.stringMatching(/^alerts\.1\.labels\.severity: /) }]);
      await handled(t, reply);
      expect((await snapshot(t)).holds.map((h) => h.id)).toEqual(['alert:alertmanager:8d1f2a3b4c5d6e7f']);
    });

    it('when summary, alertname and fingerprint are oversized, then 202 means the hold is placed (truncated, hashed) and its resolved notice lifts it', async () => {
      const oversize = (status: string) => {
        const body = JSON.parse(fixture(`alertmanager-${status}`));
        body.alerts = [body.alerts[0]];
        body.alerts[0].annotations.summary = 's'.repeat(5000);
        body.alerts[0].labels.alertname = 'N'.repeat(3000);
        body.alerts[0].fingerprint = 'f'.repeat(500);
        return JSON.stringify(body);
      };
      const firing = await post(t, oversize('firing'));
      expect(firing.json.rejected).toEqual([]);
      expect(firing.json.alerts[0].hold).toMatch(/^alert:alertmanager:sha256-[0-9a-f]{32}$/);
      await handled(t, firing);
      const [hold] = await t.cg.ledger.list();
      expect(hold!.id).toBe(firing.json.alerts[0].hold);
      expect(hold!.kind).toBe('alert');
      const alertName = hold!.kind === 'alert' ? hold!.alertName : undefined;
      expect(alertName).toHaveLength(1000);
      expect(alertName!.endsWith('… [truncated]')).toBe(true);
      expect(hold!.reason).toContain('s… [truncated]');
      expect((await snapshot(t)).paused['outbound-calls']).toBe(true);
      await handled(t, await post(t, oversize('resolved')));
      expect(await t.cg.ledger.list()).toEqual([]);
    });
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

  it('when Grafana signs the raw body (no timestamp header), then refused: it could be replayed at any time (issue 10)', async () => {
    const reply = await send(body(), { 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()) });
    expect(reply.status).toBe(401);
    expect(reply.json.error.message).toContain('CALLGUARD_GRAFANA_UNTIMED_SIGNATURES');
    expect(await alertJobs(t)).toEqual([]);
  });

  it.each<[string, () => Record<string, string>]>([
    ['ours', () => ({ 'x-callguard-signature': signCallguard(Buffer.from(body()), WEBHOOK_SECRET) })],
    [
      'Grafana, timed',
      () => {
        const ts = nowS();
        return { 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${ts}:`, body()), 'x-grafana-alerting-timestamp': ts };
      },
    ],
  ])(
    'when a signed request (%s) is replayed within the window, then 409 replayed and only the first was enqueued (issue 10)',
    async (_what, headers) => {
      const h = headers();
      await handled(t, await send(body(), h));
      const replay = await send(body(), h);
      expect(replay.status).toBe(409);
      expect(replay.json.error.code).toBe('replayed');
      expect(await alertJobs(t)).toHaveLength(1);
    },
  );

  it('a remembered signature expires with its timestamp window, plus the clock-skew margin, on Redis’ clock', async () => {
    const h = { 'x-callguard-signature': signCallguard(Buffer.from(body()), WEBHOOK_SECRET) };
    await handled(t, await send(body(), h));
    const keys = await t.cg.redis.keys(`${t.cg.config.prefix}:cg:seen:callguard:*`);
    expect(keys).toHaveLength(1);
    const ttl = await t.cg.redis.pttl(keys[0]!);
    // The window (5 min from the signature's timestamp) and the margin for instances whose clocks lag Redis' (5 min).
    expect(ttl).toBeGreaterThan(5 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
  });

  it('when Grafana signs "<timestamp>:<body>" with the timestamp header, then accepted', async () => {
    const ts = nowS();
    const reply = await send(body(), {
      'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${ts}:`, body()),
      'x-grafana-alerting-timestamp': ts,
    });
    await handled(t, reply);
  });

  const stale = String(Math.floor(Date.now() / 1000) - 10 * 60);
  const rejected: Array<[string, () => Record<string, string>, () => string]> = [
    ['ours, wrong secret', () => ({ 'x-callguard-signature': signCallguard(Buffer.from(body()), 'another-secret-entirely-123') }), body],
    ['ours, stale timestamp', () => ({ 'x-callguard-signature': `t=${stale},v1=${hmac(WEBHOOK_SECRET, `${stale}.`, body())}` }), body],
    [
      'ours, future timestamp',
      () => {
        const t2 = String(Math.floor(Date.now() / 1000) + 10 * 60);
        return { 'x-callguard-signature': `t=${t2},v1=${hmac(WEBHOOK_SECRET, `${t2}.`, body())}` };
      },
      body,
    ],
    [
      'ours, tampered body',
      () => ({ 'x-callguard-signature': signCallguard(Buffer.from(body()), WEBHOOK_SECRET) }),
      () => body().replace('outbound-calls', 'callbacks'),
    ],
    ['ours, malformed header', () => ({ 'x-callguard-signature': 'sha256=abc' }), body],
    ['Grafana, wrong secret', () => ({ 'x-grafana-alerting-signature': hmac('another-secret-entirely-123', body()) }), body],
    [
      'Grafana, stale timestamp',
      () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${stale}:`, body()), 'x-grafana-alerting-timestamp': stale }),
      body,
    ],
    [
      'Grafana, tampered body',
      () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()) }),
      () => body().replace('"firing"', '"resolved"'),
    ],
    [
      'Grafana, timestamp swapped after signing',
      () => ({ 'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, `${stale}:`, body()), 'x-grafana-alerting-timestamp': nowS() }),
      body,
    ],
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
    const reply = await postJson(`${t.url}/health/pause`, data, {
      headers: { 'x-callguard-signature': signCallguard(Buffer.from(data), WEBHOOK_SECRET) },
    });
    expect(reply.status).toBe(401);
    expect((await snapshot(t)).holds).toEqual([]);
  });

  it('when both a bearer token and a signature are sent, then the bearer token decides', async () => {
    const reply = await send(body(), {
      authorization: `Bearer ${tokenOf('viewer')}`,
      'x-grafana-alerting-signature': hmac(WEBHOOK_SECRET, body()),
    });
    expect(reply.status).toBe(403);
  });
});

describe('Grafana body-only signatures with CALLGUARD_GRAFANA_UNTIMED_SIGNATURES=true', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, {
      CALLGUARD_QUEUES: QUEUES,
      CALLGUARD_WEBHOOK_SECRET: WEBHOOK_SECRET,
      CALLGUARD_GRAFANA_UNTIMED_SIGNATURES: 'true',
    });
  });
  afterEach(() => stopTestHttp(t));

  it('when Grafana signs the raw body, then accepted once; a quick repeat is refused', async () => {
    const data = fixture('grafana-firing');
    const headers = { 'x-grafana-alerting-signature': createHmac('sha256', WEBHOOK_SECRET).update(data).digest('hex') };
    await handled(t, await postJson(`${t.url}/health/alert`, data, { headers }));
    expect((await postJson(`${t.url}/health/alert`, data, { headers })).status).toBe(409);
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
