import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { hashSecret, parsePrincipals, PrincipalDirectory, resolvePrincipals, type Role } from '../src/http/auth/principals.js';
import { isCallguardError } from '../src/domain/errors.js';
import { login, postJson, request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };

type Who = 'none' | Role;
const WHO: Who[] = ['none', 'viewer', 'alerts', 'admin'];

interface Route {
  method: string;
  path: string;
  /** bearer: the API; session: the Bull Board, signed in on the login form. */
  via: 'bearer' | 'session';
  body?: () => { type: string; data: string };
  expect: Record<Who, number>;
}

const json = (v: unknown) => () => ({ type: 'application/json', data: JSON.stringify(v) });

const ROUTES: Route[] = [
  { method: 'GET', path: '/health/service', via: 'bearer', expect: { none: 401, viewer: 200, alerts: 403, admin: 200 } },
  { method: 'GET', path: '/health/audit?limit=5', via: 'bearer', expect: { none: 401, viewer: 200, alerts: 403, admin: 200 } },
  {
    method: 'POST',
    path: '/health/pause',
    via: 'bearer',
    body: json({ reason: 'matrix' }),
    expect: { none: 401, viewer: 403, alerts: 403, admin: 200 },
  },
  { method: 'POST', path: '/health/resume', via: 'bearer', body: json({}), expect: { none: 401, viewer: 403, alerts: 403, admin: 200 } },
  {
    method: 'POST',
    path: '/health/alert',
    via: 'bearer',
    body: json({ rule: 'twilio', status: 'firing', id: 'matrix' }),
    expect: { none: 401, viewer: 403, alerts: 202, admin: 202 },
  },
  {
    method: 'POST',
    path: '/health/errors',
    via: 'bearer',
    body: json({ rule: 'twilio', count: 1 }),
    expect: { none: 401, viewer: 403, alerts: 202, admin: 202 },
  },
  {
    method: 'POST',
    path: '/health/logs',
    via: 'bearer',
    body: () => ({ type: 'application/x-ndjson', data: '{"level":"error","message":"twilio api error 503"}\n' }),
    expect: { none: 401, viewer: 403, alerts: 202, admin: 202 },
  },
  { method: 'GET', path: '/admin/queues/', via: 'session', expect: { none: 302, viewer: 200, alerts: 403, admin: 200 } },
  { method: 'GET', path: '/admin/queues/api/queues', via: 'session', expect: { none: 401, viewer: 200, alerts: 403, admin: 200 } },
  {
    method: 'PUT',
    path: '/admin/queues/api/queues/calls/pause',
    via: 'session',
    expect: { none: 401, viewer: 403, alerts: 403, admin: 200 },
  },
  {
    method: 'PUT',
    path: '/admin/queues/api/queues/calls/resume',
    via: 'session',
    expect: { none: 401, viewer: 403, alerts: 403, admin: 200 },
  },
  { method: 'GET', path: '/admin/login', via: 'session', expect: { none: 200, viewer: 303, alerts: 200, admin: 303 } },
  { method: 'GET', path: '/admin/logout', via: 'session', expect: { none: 303, viewer: 200, alerts: 200, admin: 200 } },
];

describe('auth matrix: every route × {no credentials, viewer, alerts, admin}', () => {
  let t: TestHttp;
  const cookies = new Map<Role, string>();

  beforeAll(async () => {
    t = await startTestHttp(RULES, {}, { worker: false });
    for (const role of ['viewer', 'alerts', 'admin'] as Role[]) {
      const { cookie } = await login(t.url, USERS[role].name, USERS[role].secret);
      cookies.set(role, cookie!);
    }
  });
  afterAll(() => stopTestHttp(t));

  const cases = ROUTES.flatMap((r) => WHO.map((who) => [`${r.method} ${r.path}`, who, r.expect[who], r] as const));

  it.each(cases)('%s as %s → %i', async (_name, who, status, route) => {
    const headers = new Headers({ origin: t.url });
    if (who !== 'none' && route.via === 'bearer') headers.set('authorization', `Bearer ${tokenOf(who)}`);
    if (who !== 'none' && route.via === 'session') headers.set('cookie', cookies.get(who)!);
    const body = route.body?.();
    if (body) headers.set('content-type', body.type);
    const reply = await request(`${t.url}${route.path}`, { method: route.method, headers, body: body?.data ?? null });
    expect(reply.status, reply.text.slice(0, 300)).toBe(status);
    if (route.via === 'bearer' && status >= 400) {
      expect(reply.json.error.code).toBe(status === 401 ? 'unauthorized' : 'forbidden');
    }
  });

  it('when the token is wrong, then 401 with a Bearer challenge and the JSON error', async () => {
    const reply = await request(`${t.url}/health/service`, { token: 'not-a-configured-secret-at-all' });
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(reply.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('when another scheme is used (Basic), then 401', async () => {
    const basic = Buffer.from(`${USERS.admin.name}:${USERS.admin.secret}`).toString('base64');
    const reply = await request(`${t.url}/health/service`, { headers: { authorization: `Basic ${basic}` } });
    expect(reply.status).toBe(401);
  });

  it('when the token is put in the URL, then it is refused (URLs end up in access logs)', async () => {
    const reply = await request(`${t.url}/health/service?access_token=${tokenOf('admin')}`);
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe('invalid_request');
  });

  it('when a viewer session cookie is sent to the API, then it does not authenticate (API is bearer only)', async () => {
    const reply = await request(`${t.url}/health/service`, { headers: { cookie: cookies.get('admin')! } });
    expect(reply.status).toBe(401);
  });

  it('when an unknown route is asked for, then 404 in the JSON error format', async () => {
    const reply = await request(`${t.url}/health/nope`, { token: tokenOf('admin') });
    expect(reply.status).toBe(404);
    expect(reply.json.error.code).toBe('not_found');
  });
});

describe('spoofed actors', () => {
  let t: TestHttp;
  beforeAll(async () => {
    t = await startTestHttp(RULES, {}, { worker: false });
  });
  afterAll(() => stopTestHttp(t));

  it('when the body claims paused_by / resumed_by, then status and audit name the principal only', async () => {
    const paused = await postJson(
      `${t.url}/health/pause`,
      { reason: 'carrier outage', paused_by: 'mallory' },
      { token: tokenOf('admin'), headers: { 'x-forwarded-user': 'mallory' } },
    );
    expect(paused.status).toBe(200);
    expect(paused.json.paused_by).toBe(USERS.admin.name);
    expect(paused.json.hold.by).toBe(USERS.admin.name);

    const status = await request(`${t.url}/health/service`, { token: tokenOf('viewer') });
    expect(status.json.is_paused).toBe(true);
    expect(status.json.paused_by).toBe(USERS.admin.name);
    expect(status.json.holds.map((h: { by: string }) => h.by)).toEqual([USERS.admin.name]);

    const resumed = await postJson(`${t.url}/health/resume`, { resumed_by: 'mallory' }, { token: tokenOf('admin') });
    expect(resumed.status).toBe(200);
    expect(resumed.json.resumed_by).toBe(USERS.admin.name);

    const audit = await request(`${t.url}/health/audit`, { token: tokenOf('viewer') });
    expect(audit.json.entries.map((e: { event: string; by: string }) => [e.event, e.by])).toEqual([
      ['hold-released', USERS.admin.name],
      ['hold-added', USERS.admin.name],
      ['rules-published', expect.stringMatching(/^instance /)],
    ]);
    expect(audit.text).not.toContain('mallory');
    expect((await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).text).not.toContain('mallory');
  });
});

describe('CALLGUARD_USERS', () => {
  const secret = 'a-long-enough-secret-value-0123456789';

  it('parses name:role:secret entries, and a secret may contain ":"', () => {
    expect(parsePrincipals(`ann:admin:${secret}, bob:viewer:${secret}:x , am:alerts:${secret}-2`)).toEqual([
      { name: 'ann', role: 'admin', secret },
      { name: 'bob', role: 'viewer', secret: `${secret}:x` },
      { name: 'am', role: 'alerts', secret: `${secret}-2` },
    ]);
  });

  it.each([
    ['missing fields', `ann:admin:${secret},just-a-secret-value-here`, 'entry 2: expected name:role:secret', 'just-a-secret-value-here'],
    ['unknown role', `ann:${secret}:admin`, 'entry 1: role must be one of admin, viewer, alerts', secret],
    ['short secret', 'ann:admin:short-secret', 'entry 1: secret must be at least 32 characters', 'short-secret'],
    ['31-character secret', `ann:admin:${'k'.repeat(31)}`, 'entry 1: secret must be at least 32 characters', 'k'.repeat(31)],
    [
      '.env.example placeholder',
      'ops:admin:change-me-to-a-long-random-secret',
      'entry 1: secret is a placeholder from .env.example',
      'change-me-to-a-long-random-secret',
    ],
    ['bad name', `a n:admin:${secret}`, 'entry 1: name must match', secret],
    ['repeated name', `ann:admin:${secret},ann:viewer:${secret}-b`, 'entry 2: name repeats entry 1', secret],
    ['built-in name webhook', `ann:admin:${secret},webhook:alerts:${secret}-b`, 'entry 2: name is one callguard acts under itself', secret],
    ['built-in name bullmq', `bullmq:alerts:${secret}`, 'entry 1: name is one callguard acts under itself', secret],
    ['built-in name Callguard', `Callguard:admin:${secret}`, 'entry 1: name is one callguard acts under itself', secret],
    ['shared secret', `ann:admin:${secret},bob:viewer:${secret}`, "entry 2: secret repeats entry 1's", secret],
    [
      'secret shared as plain and hashed',
      `ann:admin:${secret},bob:viewer:${hashSecret(secret)}`,
      "entry 2: secret repeats entry 1's",
      secret,
    ],
    [
      'hash too short',
      `ann:admin:sha256:${'ab'.repeat(31)}`,
      'entry 1: a hashed secret must be sha256: followed by 64 hex digits',
      'ab'.repeat(31),
    ],
    [
      'hash not hex',
      `ann:admin:sha256:${'zz'.repeat(32)}`,
      'entry 1: a hashed secret must be sha256: followed by 64 hex digits',
      'zz'.repeat(32),
    ],
    [
      'hash too long',
      `ann:admin:sha256:${'ab'.repeat(33)}`,
      'entry 1: a hashed secret must be sha256: followed by 64 hex digits',
      'ab'.repeat(33),
    ],
  ])('when an entry has %s, then start is refused naming the variable and entry, never the secret', (_what, value, message, leaked) => {
    let error: unknown;
    try {
      parsePrincipals(value);
    } catch (err) {
      error = err;
    }
    expect(isCallguardError(error)).toBe(true);
    expect((error as Error).message).toContain(`CALLGUARD_USERS ${message}`);
    expect((error as Error).message).not.toContain(leaked);
  });

  it('when empty, then one admin with a random secret is generated (never a well-known default)', () => {
    const a = resolvePrincipals('');
    const b = resolvePrincipals('');
    expect(a.generated).toMatchObject({ name: 'admin', role: 'admin' });
    expect(a.generated!.secret.length).toBeGreaterThanOrEqual(32);
    expect(a.generated!.secret).not.toBe(b.generated!.secret);
    expect(resolvePrincipals(`ann:admin:${secret}`).generated).toBeUndefined();
  });

  it('looks principals up by token and by name + secret, and by nothing else', () => {
    const dir = new PrincipalDirectory(parsePrincipals(`ann:admin:${secret},bob:viewer:${secret}-b`));
    expect(dir.byToken(secret)).toEqual({ name: 'ann', role: 'admin' });
    expect(dir.byToken(`${secret}-b`)).toEqual({ name: 'bob', role: 'viewer' });
    expect(dir.byToken(`${secret}-c`)).toBeUndefined();
    expect(dir.byToken('')).toBeUndefined();
    expect(dir.byCredentials('bob', secret)).toBeUndefined();
    expect(dir.byCredentials('ann', secret)).toEqual({ name: 'ann', role: 'admin' });
  });

  it('hashSecret gives sha256:<hex of the UTF-8 secret>', () => {
    const hex = createHash('sha256').update(secret, 'utf8').digest('hex');
    expect(hashSecret(secret)).toBe(`sha256:${hex}`);
  });

  it('when an entry holds sha256:<hex>, then the plain secret authenticates and the hash itself does not', () => {
    const hashed = hashSecret(secret);
    const entries = parsePrincipals(`ann:admin:${hashed},bob:viewer:${secret}-b`);
    expect(entries[0]).toEqual({ name: 'ann', role: 'admin', secret: hashed });
    const dir = new PrincipalDirectory(entries);
    expect(dir.byToken(secret)).toEqual({ name: 'ann', role: 'admin' });
    expect(dir.byCredentials('ann', secret)).toEqual({ name: 'ann', role: 'admin' });
    expect(dir.byToken(`${secret}-b`)).toEqual({ name: 'bob', role: 'viewer' });
    expect(dir.byToken(hashed)).toBeUndefined();
    expect(dir.byToken(hashed.slice('sha256:'.length))).toBeUndefined();
    expect(dir.byCredentials('bob', secret)).toBeUndefined();
  });

  it('when the hex of a hashed entry is upper case, then it matches the same secret', () => {
    const upper = `sha256:${hashSecret(secret).slice('sha256:'.length).toUpperCase()}`;
    expect(new PrincipalDirectory(parsePrincipals(`ann:admin:${upper}`)).byToken(secret)).toEqual({ name: 'ann', role: 'admin' });
  });

  it('when a plain secret is short, then it is still refused even though a 71-character hash would pass', () => {
    expect(() => parsePrincipals('ann:admin:sha256-is-not')).toThrow('secret must be at least 32 characters');
  });
});
