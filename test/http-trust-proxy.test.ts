import { afterEach, describe, expect, it } from 'vitest';
import { login, startTestHttp, stopTestHttp, USERS, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };
const CLIENT_A = { 'x-forwarded-for': '203.0.113.10' };
const CLIENT_B = { 'x-forwarded-for': '198.51.100.20' };

let t: TestHttp | undefined;
afterEach(async () => {
  await stopTestHttp(t);
  t = undefined;
});

const start = (env: Record<string, string>) => startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '3', ...env });

/** Three wrong secrets for the admin from `client`: the per-name limit's whole allowance. */
async function lockOut(url: string, client: Record<string, string>): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await login(url, USERS.admin.name, `wrong-secret-${i}`, client)).reply.status).toBe(401);
  expect((await login(url, USERS.admin.name, USERS.admin.secret, client)).reply.status).toBe(429);
}

const setCookie = (reply: { headers: Headers }) => reply.headers.getSetCookie().find((c) => c.startsWith('callguard.sid=')) ?? '';

describe('CALLGUARD_TRUST_PROXY', () => {
  it('when set, X-Forwarded-For is the client address: a locked-out client does not lock out another behind the same proxy', async () => {
    t = await start({ CALLGUARD_TRUST_PROXY: 'loopback' });
    await lockOut(t.url, CLIENT_A);
    const other = await login(t.url, USERS.admin.name, USERS.admin.secret, CLIENT_B);
    expect(other.reply.status).toBe(303);
    expect(other.cookie).toBeDefined();
  });

  it('when unset, X-Forwarded-For is ignored: a client cannot dodge the lockout by sending another address', async () => {
    t = await start({});
    await lockOut(t.url, CLIENT_A);
    const dodge = await login(t.url, USERS.admin.name, USERS.admin.secret, CLIENT_B);
    expect(dodge.reply.status).toBe(429);
    expect(dodge.cookie).toBeUndefined();
  });

  it('when set, a request the proxy received over HTTPS (X-Forwarded-Proto) gets a Secure session cookie; when unset, the header is ignored', async () => {
    t = await start({ CALLGUARD_TRUST_PROXY: '1' });
    const trusted = await login(t.url, USERS.admin.name, USERS.admin.secret, { ...CLIENT_A, 'x-forwarded-proto': 'https' });
    expect(trusted.reply.status).toBe(303);
    expect(setCookie(trusted.reply)).toMatch(/;\s*Secure/i);
    await stopTestHttp(t);
    t = undefined;

    t = await start({});
    const direct = await login(t.url, USERS.admin.name, USERS.admin.secret, { ...CLIENT_A, 'x-forwarded-proto': 'https' });
    expect(direct.reply.status).toBe(303);
    expect(setCookie(direct.reply)).not.toBe('');
    expect(setCookie(direct.reply)).not.toMatch(/;\s*Secure/i);
  });
});
