/**
 * What callguard writes to its log: errors with type and stack, the host in every record, an
 * access line for refusals, failures and control actions (never a secret or a body), and
 * repeated worker/connection errors throttled with a count of what was left out.
 */
import { httpDeps } from '../src/app/http-deps.js';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hostname } from 'node:os';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { startHttpServer, type HttpServer } from '../src/http/server.js';
import { createLogger } from '../src/ops/logger.js';
import { throttledErrorLog } from '../src/domain/log-throttle.js';
import { stopTestCallguard, testConfig, testRules, waitFor } from './support/harness.js';
import { request, tokenOf, USERS, USERS_ENV } from './support/http.js';

type Line = Record<string, any>;

function capture(level = 'info') {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger(level, stream) };
}

describe('log records', () => {
  it('carry the hostname, and an error keeps its type, message and stack', () => {
    const { lines, logger } = capture();
    class ProviderDown extends Error {
      override name = 'ProviderDown';
    }
    logger.error({ err: new ProviderDown('twilio answered 503') }, 'could not flush error reports');
    expect(lines[0]).toMatchObject({ hostname: hostname(), pid: process.pid, callguard: true, msg: 'could not flush error reports' });
    expect(lines[0]!.err).toMatchObject({ type: 'ProviderDown', message: 'twilio answered 503' });
    expect(lines[0]!.err.stack).toContain('logging.test.ts');
  });
});

describe('throttledErrorLog', () => {
  afterEach(() => vi.useRealTimers());

  it('writes one line per kind per 30 s, and the next line counts what was suppressed', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const { lines, logger } = capture();
    const log = throttledErrorLog(logger, 'health worker error');
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 112; i++) log(refused());
    log(new Error("READONLY You can't write against a read only replica."));
    expect(lines.map((l) => [l.kind, l.suppressed])).toEqual([
      ['ECONNREFUSED', undefined],
      ['Error', undefined],
    ]);

    vi.setSystemTime(new Date('2026-01-01T00:00:29.999Z'));
    log(refused());
    expect(lines).toHaveLength(2);
    vi.setSystemTime(new Date('2026-01-01T00:00:30Z'));
    log(refused());
    expect(lines[2]).toMatchObject({ level: 50, msg: 'health worker error', kind: 'ECONNREFUSED', suppressed: 112 });
    expect(lines[2]!.err.stack).toContain('ECONNREFUSED');
  });
});

describe('access log', () => {
  let cg: Callguard | undefined;
  let http: HttpServer | undefined;
  afterEach(async () => {
    await http?.close();
    await stopTestCallguard(cg);
    cg = undefined;
    http = undefined;
  });

  it('logs refusals and control actions with who acted, without headers, query or body', async () => {
    const { lines, logger } = capture();
    const config = testConfig({ CALLGUARD_USERS: USERS_ENV, LOG_LEVEL: 'info' });
    cg = await createCallguard(
      config,
      testRules({ twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio'] } }, config.queues),
      { logger },
    );
    http = await startHttpServer(httpDeps(cg), { port: 0, host: '127.0.0.1' });
    const access = () => lines.filter((l) => l.req);

    expect((await request(`${http.url}/health/service`, { token: tokenOf('viewer') })).status).toBe(200);
    expect(
      (await request(`${http.url}/health/service?token=query-secret-value`, { token: 'wrong-token-value-0123456789abcdef' })).status,
    ).toBe(401);
    await waitFor(() => access().length >= 1);
    // The viewer's successful GET came first and wrote nothing: the refusal is the only line.
    expect(access()).toHaveLength(1);
    expect(access()[0]).toMatchObject({
      level: 40,
      req: { method: 'GET', path: '/health/service' },
      res: { statusCode: 401 },
      msg: 'GET /health/service 401',
    });

    const paused = await request(`${http.url}/health/pause`, {
      method: 'POST',
      token: tokenOf('admin'),
      headers: { 'content-type': 'application/json', cookie: 'connect.sid=cookie-secret-value' },
      body: JSON.stringify({ reason: 'body-text-never-logged' }),
    });
    expect(paused.status).toBe(200);
    await waitFor(() => access().length >= 2);
    expect(access()[1]).toMatchObject({
      level: 30,
      req: { method: 'POST', path: '/health/pause' },
      res: { statusCode: 200 },
      principal: USERS.admin.name,
      role: 'admin',
    });
    expect(typeof access()[1]!.responseTime).toBe('number');

    const all = JSON.stringify(lines);
    for (const secret of [
      USERS.admin.secret,
      USERS.viewer.secret,
      'wrong-token-value',
      'query-secret-value',
      'cookie-secret-value',
      'body-text-never-logged',
    ])
      expect(all).not.toContain(secret);
    for (const l of lines) expect(l.hostname).toBe(hostname());
  });
});
