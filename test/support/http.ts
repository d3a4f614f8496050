import type { Role } from '../../src/http/auth/principals.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { httpDeps } from '../../src/app/http-deps.js';
import type { Callguard } from '../../src/app/callguard.js';
import { startTestCallguard, stopTestCallguard } from './harness.js';

export const USERS: Record<Role, { name: string; secret: string }> = {
  admin: { name: 'ops-admin', secret: 'admin-secret-9f8e7d6c5b4a-3c2b1a0f9e8d' },
  viewer: { name: 'ops-viewer', secret: 'viewer-secret-1a2b3c4d5e6f-7a8b9c0d1e2f' },
  alerts: { name: 'alertmanager', secret: 'alerts-secret-0a9b8c7d6e5f-4d3c2b1a0f9e' },
};

export const USERS_ENV = (Object.keys(USERS) as Role[]).map((role) => `${USERS[role].name}:${role}:${USERS[role].secret}`).join(',');

export interface TestHttp {
  cg: Callguard;
  http: HttpServer;
  url: string;
}

/**
 * A Callguard with its own prefixes (minute = 1 s) and the app
 * listening on a free port. `worker: false` keeps every enqueued job waiting, so a test can
 * count exactly what a request enqueued.
 */
export async function startTestHttp(
  rules: Record<string, unknown>,
  env: Record<string, string> = {},
  opts: { worker?: boolean } = {},
): Promise<TestHttp> {
  const cg = await startTestCallguard(rules, { CALLGUARD_USERS: USERS_ENV, ...env }, { worker: false });
  try {
    if (opts.worker !== false) await cg.startWorker();
    const http = await startHttpServer(httpDeps(cg), { port: 0, host: '127.0.0.1' });
    return { cg, http, url: http.url };
  } catch (err) {
    await stopTestCallguard(cg);
    throw err;
  }
}

export async function stopTestHttp(t: TestHttp | undefined): Promise<void> {
  if (!t) return;
  await t.http.close();
  await stopTestCallguard(t.cg);
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

export async function request(url: string, init: RequestInit & { token?: string; body?: BodyInit | null } = {}): Promise<Reply> {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(url, { ...rest, headers, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** POSTs a JSON body (already a string when the test wants exact bytes). */
export function postJson(url: string, body: unknown, init: RequestInit & { token?: string } = {}): Promise<Reply> {
  const headers = new Headers(init.headers);
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return request(url, { ...init, method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export const tokenOf = (role: Role) => USERS[role].secret;

/** Signs in on the login form like a browser (same-origin Origin header); returns the session cookie. */
export async function login(
  url: string,
  name: string,
  secret: string,
  headers: Record<string, string> = {},
): Promise<{ reply: Reply; cookie?: string }> {
  const reply = await request(`${url}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url, ...headers },
    body: new URLSearchParams({ name, secret }).toString(),
  });
  const cookie = reply.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('callguard.sid='));
  return { reply, ...(cookie ? { cookie } : {}) };
}
