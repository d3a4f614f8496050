/** Regression tests for issue 10's findings on sessions, brute force, the board's reach and headers. */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../src/http/server.js';
import { createApp } from '../src/http/app.js';
import { httpDeps } from '../src/app/http-deps.js';
import { createLogger } from '../src/ops/logger.js';
import { JOB } from '../src/jobs/contract.js';
import type { PrincipalEntry } from '../src/http/auth/principals.js';
import { login, request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };
const SESSION_SECRET = 'session-secret-for-the-tests-1234';

const entries = (over: Partial<PrincipalEntry> = {}): PrincipalEntry[] => [
  { name: USERS.admin.name, role: 'admin', secret: USERS.admin.secret },
  { name: USERS.viewer.name, role: 'viewer', secret: USERS.viewer.secret, ...over },
];

let t: TestHttp | undefined;
const extra: HttpServer[] = [];
afterEach(async () => {
  for (const s of extra.splice(0)) await s.close();
  await stopTestHttp(t);
  t = undefined;
});

/** A second instance on the same Redis and prefix, as after a restart with changed CALLGUARD_USERS. */
async function instance(principals: PrincipalEntry[]): Promise<HttpServer> {
  const s = await startHttpServer(httpDeps(t!.cg), { port: 0, host: '127.0.0.1', principals });
  extra.push(s);
  return s;
}

const boardStatus = async (url: string, cookie: string) =>
  (await request(`${url}/admin/queues/api/queues`, { headers: { cookie } })).status;

describe('sessions end when the principal changes (issue 10, item 4)', () => {
  it.each<[string, Partial<PrincipalEntry>]>([
    ['its secret is rotated', { secret: 'a-brand-new-viewer-secret-42' }],
    ['its name is reused with role admin', { role: 'admin' }],
  ])('when %s, then the old session no longer signs in', async (_what, change) => {
    t = await startTestHttp(RULES, { CALLGUARD_SESSION_SECRET: SESSION_SECRET });
    const before = await instance(entries());
    const { cookie } = await login(before.url, USERS.viewer.name, USERS.viewer.secret);
    expect(await boardStatus(before.url, cookie!)).toBe(200);

    const unchanged = await instance(entries());
    expect(await boardStatus(unchanged.url, cookie!)).toBe(200);
    const after = await instance(entries(change));
    expect(await boardStatus(after.url, cookie!)).toBe(401);
    // And it does not come back as admin on a write either.
    const write = await request(`${after.url}/admin/queues/api/queues/calls/pause`, {
      method: 'PUT',
      headers: { cookie: cookie!, origin: after.url },
    });
    expect(write.status).toBe(401);
  });
});

describe('failed bearer authentication is limited per client address (issue 10, item 5)', () => {
  it('after 5 × CALLGUARD_LOGIN_ATTEMPTS failures, then 429 with Retry-After, counted in Redis and shared by instances', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '2' }, { worker: false });
    const other = await instance(entries());
    // Successes are never counted.
    for (let i = 0; i < 12; i++) expect((await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const url = i % 2 ? other.url : t.url;
      statuses.push((await request(`${url}/health/service`, { token: `wrong-token-${i}-xxxxxxxx` })).status);
    }
    expect(statuses).toEqual(Array(10).fill(401));
    const limited = await request(`${other.url}/health/service`, { token: 'wrong-token-final-xxxxx' });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('too_many_requests');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // While limited, a valid token from the address still works: someone else's failures never lock it out (issue 19, item 2).
    expect((await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).status).toBe(200);
    expect(await t.cg.redis.keys(`${t.cg.config.prefix}:cg:rl:bearer:*`)).toHaveLength(1);
  });

  it('the login limiter keeps its counts in Redis under callguard’s prefix, shared by instances', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '2' }, { worker: false });
    const other = await instance(entries());
    expect((await login(t.url, USERS.admin.name, 'wrong-secret-1')).reply.status).toBe(401);
    expect((await login(other.url, USERS.admin.name, 'wrong-secret-2')).reply.status).toBe(401);
    expect((await login(t.url, USERS.admin.name, 'wrong-secret-3')).reply.status).toBe(429);
    expect((await t.cg.redis.keys(`${t.cg.config.prefix}:cg:rl:login-*`)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('callguard’s own queues are read-only on the board (issue 10, item 7)', () => {
  const board = (cookie: string, method: string, path: string, body?: unknown) =>
    request(`${t!.url}/admin/queues${path}`, {
      method,
      headers: { cookie, origin: t!.url, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('when an admin tries to change callguard.events or callguard.notifications, then every write is refused and nothing changes', async () => {
    t = await startTestHttp(RULES, {}, { worker: true });
    const { cookie } = await login(t.url, USERS.admin.name, USERS.admin.secret);
    const listed = (await board(cookie!, 'GET', '/api/queues')).json.queues as Array<{ name: string; readOnlyMode: boolean }>;
    expect(Object.fromEntries(listed.map((q) => [q.name, q.readOnlyMode]))).toEqual({
      calls: false,
      'callguard.events': true,
      'callguard.notifications': true,
    });
    const schedulersBefore = await t.cg.events.getJobSchedulers();
    expect(schedulersBefore.map((s) => s.key)).toEqual([JOB.evaluate]);

    for (const q of ['callguard.events', 'callguard.notifications']) {
      const writes: Array<[string, string, unknown?]> = [
        ['PUT', `/api/queues/${q}/pause`],
        ['PUT', `/api/queues/${q}/rate-limit`, { max: 1, duration: 60_000 }],
        ['PUT', `/api/queues/${q}/clean/completed`],
        ['PUT', `/api/queues/${q}/empty`],
        ['PUT', `/api/queues/${q}/obliterate`],
        ['POST', `/api/queues/${q}/add`, { name: 'slack-action', data: { userId: 'UADMIN1', holdId: 'manual:x' } }],
        ['PUT', `/api/queues/${q}/retry/failed`],
        ['PUT', `/api/queues/${q}/promote`],
        ['PUT', `/api/queues/${q}/job-schedulers/${JOB.evaluate}/remove`],
        ['PATCH', `/api/queues/${q}/job-schedulers/${JOB.evaluate}`, { pattern: '0 0 1 1 *' }],
        ['PUT', `/api/queues/${q}/job-schedulers/${JOB.evaluate}/run`],
      ];
      for (const [method, path, body] of writes) {
        const reply = await board(cookie!, method, path, body);
        expect(reply.status, `${method} ${path}`).toBe(403);
      }
    }
    expect(await t.cg.events.isPaused()).toBe(false);
    expect(await t.cg.notifier.queue.isPaused()).toBe(false);
    expect(await t.cg.events.getGlobalRateLimit?.()).toBeFalsy();
    expect((await t.cg.events.getJobSchedulers()).map((s) => s.key)).toEqual([JOB.evaluate]);
    expect(
      (await t.cg.events.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter((j) => j.name === 'slack-action'),
    ).toEqual([]);
  });

  it('dispatch queues keep today’s behaviour: an admin may still clean one', async () => {
    t = await startTestHttp(RULES, {}, { worker: false });
    const { cookie } = await login(t.url, USERS.admin.name, USERS.admin.secret);
    expect((await board(cookie!, 'PUT', '/api/queues/calls/clean/completed')).status).toBe(200);
  });
});

describe('headers and proxies (issue 10, item 8)', () => {
  it('no response carries X-Powered-By: API, login page, board page and board API', async () => {
    t = await startTestHttp(RULES, {}, { worker: false });
    const { cookie } = await login(t.url, USERS.admin.name, USERS.admin.secret);
    for (const [path, headers] of [
      ['/health/service', { authorization: `Bearer ${tokenOf('viewer')}` }],
      ['/admin/login', {}],
      ['/admin/queues/', { cookie: cookie! }],
      ['/admin/queues/api/queues', { cookie: cookie! }],
      ['/nowhere', {}],
    ] as const) {
      const reply = await request(`${t.url}${path}`, { headers });
      expect(reply.headers.get('x-powered-by'), path).toBeNull();
    }
  });

  it('behind a TLS proxy that rewrites Host, the origin check compares with the forwarded host when trust proxy is set', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_TRUST_PROXY: 'loopback' }, { worker: false });
    const proxied = { origin: 'https://callguard.example.com', 'x-forwarded-host': 'callguard.example.com', 'x-forwarded-proto': 'https' };
    const { reply } = await login(t.url, USERS.admin.name, USERS.admin.secret, proxied);
    expect(reply.status).toBe(303);
    const spoofed = await login(t.url, USERS.admin.name, USERS.admin.secret, { ...proxied, origin: 'https://evil.example' });
    expect(spoofed.reply.status).toBe(403);
  });

  it('without trust proxy, a forged X-Forwarded-Host does not pass the origin check', async () => {
    t = await startTestHttp(RULES, {}, { worker: false });
    const { reply } = await login(t.url, USERS.admin.name, USERS.admin.secret, {
      origin: 'https://evil.example',
      'x-forwarded-host': 'evil.example',
    });
    expect(reply.status).toBe(403);
  });

  it('when CALLGUARD_TRUST_PROXY=true, then a warning is logged at start', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_TRUST_PROXY: 'true' }, { worker: false });
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    createApp({ ...httpDeps(t.cg), logger: createLogger('warn', sink) }, { principals: entries() });
    expect(lines.some((l) => l.includes('CALLGUARD_TRUST_PROXY=true') && l.includes('"level":40'))).toBe(true);
  });
});
