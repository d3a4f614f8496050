/**
 * The console's HTTP side without a browser: access by role, the same-origin check, the actions'
 * validation (fail closed: 4xx and nothing changes), and the per-minute buckets it charts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, postJson, request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';
import type { Role } from '../src/http/auth/principals.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 30, log_patterns: ['twilio api error'], queues: ['calls'] } };

describe('the console over HTTP', () => {
  let t: TestHttp;
  const cookies = {} as Record<Role, string>;
  /** As the admin's page would: its session cookie and this site's Origin. */
  const post = (path: string, body: unknown) => postJson(`${t.url}${path}`, body, { headers: { cookie: cookies.admin, origin: t.url } });

  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    for (const role of Object.keys(USERS) as Role[]) {
      const { cookie } = await login(t.url, USERS[role].name, USERS[role].secret);
      cookies[role] = cookie!;
    }
  });
  afterAll(() => stopTestHttp(t));

  const unchanged = async () => {
    expect(await t.cg.ledger.list()).toEqual([]);
    // The seed's rules version 1 is audited at start; nothing else may be.
    expect((await t.cg.ledger.audit(10)).filter((e) => e.event !== 'rules-published')).toEqual([]);
  };

  it('when nobody is signed in, then the page sends to the sign-in form and the API answers 401', async () => {
    const page = await request(`${t.url}/admin/`);
    expect([page.status, page.headers.get('location')]).toEqual([302, '/admin/login']);
    const view = await request(`${t.url}/admin/api/view`);
    expect([view.status, view.json.error.code]).toEqual([401, 'unauthorized']);
    const pause = await postJson(`${t.url}/admin/api/pause`, {}, { headers: { origin: t.url } });
    expect(pause.status).toBe(401);
    // A bearer token is no session: the console's API is for the browser.
    const bearer = await request(`${t.url}/admin/api/view`, { token: tokenOf('admin') });
    expect(bearer.status).toBe(401);
    await unchanged();
  });

  it('when a browser revalidates the console’s script, then it gets 304; a JSON reply carries no ETag of its own', async () => {
    const first = await request(`${t.url}/admin/console.js`);
    const etag = first.headers.get('etag');
    expect([first.status, etag]).toEqual([200, expect.stringMatching(/^"[\w-]{27}"$/)]);
    // As a browser revalidates; fetch() would otherwise add Cache-Control: no-cache to a conditional request.
    const again = await request(`${t.url}/admin/console.js`, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
    expect([again.status, again.headers.get('etag')]).toEqual([304, etag]);
    const stale = await request(`${t.url}/admin/console.js`, { headers: { 'if-none-match': '"other"', 'cache-control': 'max-age=0' } });
    expect(stale.status).toBe(200);
    const status = await request(`${t.url}/health/service`, { token: tokenOf('viewer') });
    expect([status.status, status.headers.get('etag')]).toEqual([200, null]);
  });

  it('when the alerts role signs in, then the console is refused', async () => {
    const page = await request(`${t.url}/admin/`, { headers: { cookie: cookies.alerts } });
    expect([page.status, page.json.error.code]).toEqual([403, 'forbidden']);
    expect((await request(`${t.url}/admin/api/view`, { headers: { cookie: cookies.alerts } })).status).toBe(403);
  });

  it('when a viewer asks for the view, then it has every region and no action; an admin’s has Resume per hold', async () => {
    await t.cg.control.pause({ by: 'someone', queues: ['sms'], reason: 'test <b>escaped</b>' });
    try {
      const viewer = await request(`${t.url}/admin/api/view`, { headers: { cookie: cookies.viewer } });
      expect(viewer.status).toBe(200);
      expect(Object.keys(viewer.json).sort()).toEqual(['holds', 'queues', 'rules', 'timeline']);
      expect(viewer.json.holds).toContain('test &lt;b&gt;escaped&lt;/b&gt;');
      expect(viewer.json.holds).not.toContain('<button');
      const admin = await request(`${t.url}/admin/api/view`, { headers: { cookie: cookies.admin } });
      expect(admin.json.holds).toMatch(/<button type="button" class="resume" data-hold="manual:[^"]+" aria-label="Resume manual:/);
      const page = await request(`${t.url}/admin/`, { headers: { cookie: cookies.viewer } });
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('id="pause-form"');
      expect(page.text).not.toMatch(/<script>|<style>| style="| on\w+="/);
    } finally {
      await t.cg.control.resume({ by: 'test' });
      await t.cg.redis.del(t.cg.keys.audit);
    }
  });

  it('when only a provider is held, then its queue says running and names the provider, not paused', async () => {
    await t.cg.control.pause({ by: 'someone', queues: ['calls'], providers: ['twilio', '<i>x</i>'], reason: 'carrier down' });
    try {
      const view = await request(`${t.url}/admin/api/view`, { headers: { cookie: cookies.viewer } });
      const calls = (view.json.queues as string).match(/<li data-queue="calls">.*?<\/li>/)![0];
      expect(calls).toContain('running; twilio held, &lt;i&gt;x&lt;/i&gt; held');
      expect(calls).not.toContain('paused');
      expect(view.json.queues).toMatch(/<li data-queue="sms"><strong>sms<\/strong> <span class="state state-clear">running<\/span>/);
    } finally {
      await t.cg.control.resume({ by: 'test' });
      await t.cg.redis.del(t.cg.keys.audit);
    }
  });

  it.each([
    ['another site’s Origin', { origin: 'https://evil.example' }],
    ['no Origin and no Sec-Fetch-Site', { origin: '' }],
    ['Sec-Fetch-Site: cross-site', { origin: '', 'sec-fetch-site': 'cross-site' }],
  ])('when an admin’s cookie comes with %s, then pause and resume are refused and nothing changes', async (_what, headers) => {
    const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''));
    for (const path of ['/admin/api/pause', '/admin/api/resume']) {
      const reply = await postJson(`${t.url}${path}`, { reason: 'csrf' }, { headers: { cookie: cookies.admin, ...clean } });
      expect([reply.status, reply.json.error.code], path).toEqual([403, 'forbidden']);
    }
    await unchanged();
  });

  it.each([
    ['/admin/api/pause', { queues: ['nope'] }, 400, 'unknown dispatch queue'],
    ['/admin/api/pause', { until: '2001-01-01T00:00:00Z' }, 400, 'must be in the future'],
    ['/admin/api/pause', { queue: ['calls'] }, 400, 'queue'],
    ['/admin/api/resume', { holds: ['manual:not-held'] }, 404, 'manual:not-held not held'],
    ['/admin/api/resume', { holds: ['rule:twilio'], queues: ['calls'] }, 400, 'not both'],
    ['/admin/api/resume', { holds: [] }, 400, 'holds'],
  ])('when an admin posts %s %j, then it answers %i naming the problem and changes nothing', async (path, body, status, message) => {
    const reply = await post(path, body);
    expect(reply.status, reply.text).toBe(status);
    expect(reply.json.error.message).toContain(message);
    await unchanged();
  });

  it('when an admin pauses and resumes by queue, then the answers are those of /health/pause and /health/resume, in the admin’s name', async () => {
    const paused = await post('/admin/api/pause', { queues: ['calls'], reason: 'by queue' });
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({
      status: 'paused',
      paused_by: USERS.admin.name,
      hold: { kind: 'manual', scope: ['calls'], by: USERS.admin.name, reason: 'by queue' },
      newly_paused: ['calls'],
    });
    const resumed = await post('/admin/api/resume', { queues: ['calls'] });
    expect(resumed.json).toMatchObject({
      status: 'resumed',
      resumed_by: USERS.admin.name,
      released: [{ id: paused.json.hold.id }],
      newly_resumed: ['calls'],
    });
    const audit = await t.cg.ledger.audit(10);
    expect(audit.map((e) => [e.event, e.by, e.reason])).toEqual([
      ['hold-released', USERS.admin.name, 'resumed from the console'],
      ['hold-added', USERS.admin.name, 'by queue'],
    ]);
    await t.cg.redis.del(t.cg.keys.audit);
  });
});

describe('the console’s rules and silences routes (issue 22)', () => {
  let t: TestHttp;
  const cookies = {} as Record<Role, string>;
  const LOWER = { twilio: { ...RULES.twilio, threshold_count: 3 } };
  const SILENCE = { rules: ['twilio'], until: new Date(Date.now() + 3_600_000).toISOString(), reason: 'csrf' };

  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_RULES_SOURCE: 'redis' });
    for (const role of Object.keys(USERS) as Role[]) cookies[role] = (await login(t.url, USERS[role].name, USERS[role].secret)).cookie!;
  });
  afterAll(() => stopTestHttp(t));

  /** Every write the console can make, with these headers. */
  const writes = (headers: Record<string, string>) => [
    request(`${t.url}/admin/api/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': '"1"', ...headers },
      body: JSON.stringify(LOWER),
    }),
    postJson(`${t.url}/admin/api/rules/rollback`, { version: 1 }, { headers }),
    postJson(`${t.url}/admin/api/silences`, SILENCE, { headers }),
    request(`${t.url}/admin/api/silences/x`, { method: 'DELETE', headers }),
  ];
  const unchanged = async () => {
    expect(t.cg.liveRules.version).toBe(1);
    expect(await t.cg.silencer.list()).toEqual([]);
  };

  it('when a write comes without a session, from a viewer or alerts principal, or from another site, then it is refused and nothing changes', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      ['no session', { origin: t.url }, 401],
      ['a bearer token (no session)', { origin: t.url, authorization: `Bearer ${tokenOf('admin')}` }, 401],
      ['viewer', { cookie: cookies.viewer, origin: t.url }, 403],
      ['alerts', { cookie: cookies.alerts, origin: t.url }, 403],
      ['admin, another site', { cookie: cookies.admin, origin: 'https://evil.example' }, 403],
      ['admin, no Origin', { cookie: cookies.admin }, 403],
      ['admin, Sec-Fetch-Site: cross-site', { cookie: cookies.admin, 'sec-fetch-site': 'cross-site' }, 403],
    ];
    for (const [who, headers, status] of cases) {
      for (const reply of await Promise.all(writes(headers))) expect(reply.status, `${who}: ${reply.text}`).toBe(status);
    }
    await unchanged();
  });

  it('when a viewer reads and compares, then the answers are those of /health/rules…; an admin’s edit is a version in the admin’s name', async () => {
    const viewer = { cookie: cookies.viewer, origin: t.url };
    const got = await request(`${t.url}/admin/api/rules`, { headers: viewer });
    expect([got.status, got.headers.get('etag'), got.json.content]).toEqual([200, '"1"', RULES]);
    const diff = await postJson(`${t.url}/admin/api/rules/diff`, LOWER, { headers: viewer });
    expect(diff.json.changes).toEqual([{ path: 'twilio.threshold_count', before: 5, after: 3 }]);
    const bad = await postJson(`${t.url}/admin/api/rules/diff`, { twilio: { ...RULES.twilio, threshold_count: -1 } }, { headers: viewer });
    expect([bad.status, bad.json.error.message]).toEqual([400, expect.stringMatching(/rule "twilio": field threshold_count/)]);
    expect((await request(`${t.url}/admin/api/silences`, { headers: viewer })).json).toEqual({ silences: [] });
    await unchanged();

    const put = await request(`${t.url}/admin/api/rules`, {
      method: 'PUT',
      headers: { cookie: cookies.admin, origin: t.url, 'content-type': 'application/json', 'if-match': '"1"' },
      body: JSON.stringify(LOWER),
    });
    expect([put.status, put.json.version, put.json.by]).toEqual([200, 2, USERS.admin.name]);
  });
});

describe('Counters.buckets', () => {
  let t: TestHttp;
  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls' }, { worker: false });
  });
  afterAll(() => stopTestHttp(t));

  it('when errors are recorded, then the current minute holds them, the window has one bucket per minute, and the buckets add up to the window sum', async () => {
    const rule = t.cg.rules[0]!;
    const before = await t.cg.counters.buckets();
    expect(before.buckets.twilio).toEqual(Array(30).fill(0));
    const { now } = await t.cg.counters.record(rule, 3);
    const after = await t.cg.counters.buckets();
    const { counts } = await t.cg.counters.sums();
    expect(after.buckets.twilio).toHaveLength(30);
    expect(after.buckets.twilio!.reduce((a, b) => a + b, 0)).toBe(counts.twilio);
    // The bucket is numbered on Redis' clock: it is the last one unless a minute (1 s here) turned in between.
    const minutesLater = Math.floor(after.now / t.cg.config.minuteMs) - Math.floor(now / t.cg.config.minuteMs);
    expect(after.buckets.twilio![29 - minutesLater]).toBe(3);
  });
});
