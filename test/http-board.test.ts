import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ticks } from './support/fences.js';
import { login, request, startTestHttp, stopTestHttp, USERS, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };

async function signedIn(t: TestHttp, role: 'admin' | 'viewer' | 'alerts'): Promise<string> {
  const { reply, cookie } = await login(t.url, USERS[role].name, USERS[role].secret);
  expect(reply.status).toBe(303);
  return cookie!;
}

/** A same-origin board call, as the board's own page makes it. */
const board = (t: TestHttp, cookie: string, method: string, path: string, headers: Record<string, string> = {}) =>
  request(`${t.url}/admin/queues${path}`, { method, headers: { cookie, origin: t.url, ...headers } });

const paused = async (t: TestHttp) =>
  Object.fromEntries(await Promise.all([...t.cg.dispatch].map(async ([n, q]) => [n, await q.isPaused()] as const)));

describe('Bull Board behind login', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_LOGIN_ATTEMPTS: '3' });
  });
  afterEach(() => stopTestHttp(t));

  it('when not signed in, then pages redirect to the login form and the board API answers 401', async () => {
    const page = await request(`${t.url}/admin/queues/`);
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/admin/login');
    const api = await request(`${t.url}/admin/queues/api/queues`);
    expect(api.status).toBe(401);
    expect(api.json.error.code).toBe('unauthorized');
    const form = await request(`${t.url}/admin/login`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('<form method="post" action="/admin/login">');
  });

  it('when the secret is wrong, then 401 and no session; when right, then an httpOnly SameSite=Strict cookie stored in Redis', async () => {
    const wrong = await login(t.url, USERS.admin.name, 'not-the-admin-secret');
    expect(wrong.reply.status).toBe(401);
    expect(wrong.reply.text).toContain('Unknown name or wrong secret');
    expect(wrong.cookie).toBeUndefined();

    const right = await login(t.url, USERS.admin.name, USERS.admin.secret);
    expect(right.reply.status).toBe(303);
    expect(right.reply.headers.get('location')).toBe('/admin/queues/');
    const setCookie = right.reply.headers.getSetCookie().find((c) => c.startsWith('callguard.sid='))!;
    expect(setCookie).toMatch(/; HttpOnly/i);
    expect(setCookie).toMatch(/; SameSite=Strict/i);
    expect(setCookie).toMatch(/; Path=\/admin/i);
    const keys = await sessionKeys(t);
    expect(keys).toHaveLength(1);
    // The session names the principal and a fingerprint of its secret and role, never the secret.
    const stored = await t.cg.redis.get(keys[0]!);
    expect(stored).toContain(`"user":{"name":"${USERS.admin.name}","fp":"`);
    expect(stored).not.toContain(USERS.admin.secret);
    expect(await t.cg.redis.get(keys[0]!)).not.toContain(USERS.admin.secret);
  });

  it('when a name is the right one but the secret belongs to someone else, then the login fails', async () => {
    const mixed = await login(t.url, USERS.admin.name, USERS.viewer.secret);
    expect(mixed.reply.status).toBe(401);
  });

  it('when a login post comes from another site or without Origin, then 403 (CSRF)', async () => {
    const evil = await login(t.url, USERS.admin.name, USERS.admin.secret, { origin: 'https://evil.example' });
    expect(evil.reply.status).toBe(403);
    expect(evil.cookie).toBeUndefined();
    const none = await request(`${t.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: USERS.admin.name, secret: USERS.admin.secret }).toString(),
    });
    expect(none.status).toBe(403);
  });

  it.each([
    { fetchSite: 'same-origin', status: 303 },
    { fetchSite: 'cross-site', status: 403 },
    { fetchSite: undefined, status: 403 },
  ])(
    'a login post with the opaque Origin: null (Referrer-Policy no-referrer) and Sec-Fetch-Site $fetchSite → $status',
    async ({ fetchSite, status }) => {
      const reply = await login(t.url, USERS.admin.name, USERS.admin.secret, {
        origin: 'null',
        ...(fetchSite ? { 'sec-fetch-site': fetchSite } : {}),
      });
      expect(reply.reply.status).toBe(status);
      expect(reply.cookie !== undefined).toBe(status === 303);
    },
  );

  it('when logins keep failing, then that name is locked out for the window, even with the right secret', async () => {
    for (let i = 0; i < 3; i++) expect((await login(t.url, USERS.admin.name, `wrong-secret-${i}`)).reply.status).toBe(401);
    const locked = await login(t.url, USERS.admin.name, USERS.admin.secret);
    expect(locked.reply.status).toBe(429);
    expect(locked.reply.text).toContain('Too many failed sign-ins');
    expect(locked.cookie).toBeUndefined();
    // Another principal from the same address is not locked out by someone guessing the admin's secret.
    expect((await login(t.url, USERS.viewer.name, USERS.viewer.secret)).reply.status).toBe(303);
  });

  it('when logins spray many names from one address, then the per-address limit stops them', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) statuses.push((await login(t.url, `guess-${i}`, 'wrong-secret-value')).reply.status);
    expect(statuses.slice(0, 15).every((s) => s === 401)).toBe(true);
    expect(statuses[15]).toBe(429);
  });

  it('when a viewer signs in, then the board is read-only: queues listed, every write refused, nothing changes', async () => {
    const cookie = await signedIn(t, 'viewer');
    const page = await board(t, cookie, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('callguard (read-only)');
    const list = await board(t, cookie, 'GET', '/api/queues');
    expect(list.status).toBe(200);
    const queues = list.json.queues as Array<{ name: string; readOnlyMode: boolean }>;
    expect(queues.map((q) => q.name).sort()).toEqual(['callguard.events', 'callguard.notifications', 'calls', 'sms']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    for (const path of [
      '/api/queues/calls/pause',
      '/api/queues/calls/resume',
      '/api/queues/pause',
      '/api/queues/calls/clean/failed',
      '/api/queues/calls/empty',
    ]) {
      const reply = await board(t, cookie, 'PUT', path);
      expect(reply.status, path).toBe(403);
    }
    expect(await t.cg.ledger.list()).toEqual([]);
    expect(await paused(t)).toEqual({ calls: false, sms: false });
  });

  it('when an admin pauses a dispatch queue on the board, then it is a manual hold in the admin’s name that the next tick keeps', async () => {
    const cookie = await signedIn(t, 'admin');
    const page = await board(t, cookie, 'GET', '/');
    expect(page.text).toContain('<title>callguard</title>');

    const reply = await board(t, cookie, 'PUT', '/api/queues/calls/pause');
    expect(reply.status).toBe(200);
    const holds = await t.cg.ledger.list();
    expect(holds).toEqual([
      expect.objectContaining({ kind: 'manual', scope: ['calls'], by: USERS.admin.name, reason: 'paused from Bull Board' }),
    ]);
    expect(await paused(t)).toEqual({ calls: true, sms: false });
    const [added] = await t.cg.ledger.audit(1);
    expect(added).toMatchObject({ event: 'hold-added', by: USERS.admin.name, paused: ['calls'] });

    // Two evaluator ticks later: a silent Queue.pause() would have been "repaired" away by now.
    await ticks(t.cg.events, 2);
    expect(await paused(t)).toEqual({ calls: true, sms: false });
    const listed = (await board(t, cookie, 'GET', '/api/queues')).json.queues as Array<{ name: string; isPaused: boolean }>;
    expect(listed.find((q) => q.name === 'calls')!.isPaused).toBe(true);

    const resumed = await board(t, cookie, 'PUT', '/api/queues/calls/resume');
    expect(resumed.status).toBe(200);
    expect(await t.cg.ledger.list()).toEqual([]);
    expect(await paused(t)).toEqual({ calls: false, sms: false });
    const [released] = await t.cg.ledger.audit(1);
    expect(released).toMatchObject({ event: 'hold-released', by: USERS.admin.name, reason: 'resumed from Bull Board', resumed: ['calls'] });
  });

  it('when an admin resumes a queue held by a rule or alert, then the board releases those holds in the admin’s name', async () => {
    await t.cg.control.addAlertHold({ id: 'alert:grafana:x1', by: 'alert:grafana', reason: 'grafana says so', queues: ['sms'] });
    expect(await paused(t)).toEqual({ calls: false, sms: true });
    const cookie = await signedIn(t, 'admin');
    expect((await board(t, cookie, 'PUT', '/api/queues/sms/resume')).status).toBe(200);
    expect(await t.cg.ledger.list()).toEqual([]);
    expect((await t.cg.ledger.audit(1))[0]).toMatchObject({ hold: 'alert:grafana:x1', by: USERS.admin.name });
  });

  it('when an admin tries to pause callguard’s events queue, or every queue at once, then it is refused', async () => {
    const cookie = await signedIn(t, 'admin');
    const events = await board(t, cookie, 'PUT', '/api/queues/callguard.events/pause');
    expect(events.status).toBe(403);
    const all = await board(t, cookie, 'PUT', '/api/queues/pause');
    expect(all.status).toBe(403);
    expect(await t.cg.events.isPaused()).toBe(false);
    expect(await t.cg.ledger.list()).toEqual([]);
    expect(await paused(t)).toEqual({ calls: false, sms: false });
  });

  it('when a board write comes cross-site or without Origin, then 403 and nothing changes', async () => {
    const cookie = await signedIn(t, 'admin');
    const evil = await board(t, cookie, 'PUT', '/api/queues/calls/pause', { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    const bare = await request(`${t.url}/admin/queues/api/queues/calls/pause`, { method: 'PUT', headers: { cookie } });
    expect(bare.status).toBe(403);
    const sameSite = await request(`${t.url}/admin/queues/api/queues/calls/pause`, {
      method: 'PUT',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameSite.status).toBe(200);
    expect((await t.cg.ledger.list()).map((h) => h.by)).toEqual([USERS.admin.name]);
  });

  it('when the alerts principal signs in, then it may not use the board', async () => {
    const cookie = await signedIn(t, 'alerts');
    expect((await board(t, cookie, 'GET', '/')).status).toBe(403);
    expect((await board(t, cookie, 'GET', '/api/queues')).status).toBe(403);
  });

  it('when an admin signs out, then the session is gone from Redis and the cookie stops working', async () => {
    const cookie = await signedIn(t, 'admin');
    const out = await request(`${t.url}/admin/logout`, { method: 'POST', headers: { cookie, origin: t.url } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/admin/login');
    const keys = await sessionKeys(t);
    expect(keys).toEqual([]);
    expect((await board(t, cookie, 'GET', '/api/queues')).status).toBe(401);
  });
});

/** Every stored session key: the whole keyspace is scanned, since the shared Redis may hold many other keys. */
async function sessionKeys(t: TestHttp): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await t.cg.redis.scan(cursor, 'MATCH', `${t.cg.keys.sessionPrefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}
