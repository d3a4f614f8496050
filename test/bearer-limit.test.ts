import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { httpDeps } from '../src/app/http-deps.js';
import { enqueueReport } from '../src/jobs/enqueue-report.js';
import { errorHandler } from '../src/http/middleware/error-handler.js';
import { redisLimitStore } from '../src/http/middleware/limit-store.js';
import { warnUntrustedForwarded } from '../src/http/middleware/bearer-limit.js';
import { startHttpServer } from '../src/http/server.js';
import { Keys } from '../src/store/keys.js';
import { waitFor } from './support/harness.js';
import { PrivateRedis } from './support/redis-server.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 1000, window_minutes: 5, log_patterns: ['twilio api error'] } };

let t: TestHttp | undefined;
afterEach(async () => {
  await stopTestHttp(t);
  t = undefined;
});

/** Issue 19, item 2: failures are counted per address, atomically, and never refuse a valid credential. */
describe('failed bearer attempts never lock out valid credentials', () => {
  it('when one address sent 60 wrong tokens, then the admin, alerts and viewer tokens from it still work; the wrong ones get 429', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '10' });
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await request(`${t.url}/health/service`, { token: `wrong-token-${i}-xxxxxxxxxx` })).status);
    expect(statuses.slice(0, 50)).toEqual(Array(50).fill(401));
    expect(statuses.slice(50)).toEqual(Array(10).fill(429));
    expect((await request(`${t.url}/health/service`, { token: tokenOf('admin') })).status).toBe(200);
    expect((await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).status).toBe(200);
    const report = await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 1 }, { token: tokenOf('alerts') });
    expect(report.status).toBe(202);
    const alert = await postJson(`${t.url}/health/alert`, { id: 'x', status: 'firing' }, { token: tokenOf('alerts') });
    expect(alert.status).toBe(202);
  });

  it('when 51 requests carry no Authorization header, then they get 429, and a viewer token from the same address does not', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '10' }, { worker: false });
    const statuses: number[] = [];
    for (let i = 0; i < 51; i++) statuses.push((await request(`${t.url}/metrics`)).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(50);
    expect(statuses.at(-1)).toBe(429);
    expect((await request(`${t.url}/metrics`, { token: tokenOf('viewer') })).status).toBe(200);
    // A wrong token from that address is judged on its own count, not the anonymous one.
    expect((await request(`${t.url}/metrics`, { token: 'wrong-token-xxxxxxxxxxxxxxxx' })).status).toBe(401);
  });

  it('when 400 bad tokens arrive in parallel, then exactly the limit of them is answered 401 (one atomic count)', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_LOGIN_ATTEMPTS: '10' }, { worker: false });
    const replies = await Promise.all(
      Array.from({ length: 400 }, (_, i) => request(`${t!.url}/health/service`, { token: `bad-token-${i}-xxxxxxxxxxxx` })),
    );
    const by = (s: number) => replies.filter((r) => r.status === s).length;
    expect({ 401: by(401), 429: by(429) }).toEqual({ 401: 50, 429: 350 });
  });
});

describe('X-Forwarded-For while trust proxy is off', () => {
  it('is warned about once, on the first such request', () => {
    const warn = vi.fn();
    const mw = warnUntrustedForwarded({ warn } as never);
    const req = (xff?: string) => ({
      get: (h: string) => (h === 'x-forwarded-for' ? xff : undefined),
      socket: { remoteAddress: '10.0.0.1' },
    });
    const next = vi.fn();
    mw(req() as never, {} as never, next);
    expect(warn).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i++) mw(req('203.0.113.1') as never, {} as never, next);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![1]).toMatch(/CALLGUARD_TRUST_PROXY is off/);
    expect(next).toHaveBeenCalledTimes(4);
  });
});

/** Issue 19, item 4 (single node; test/faults/cluster-http.test.ts runs it on a cluster with a failover). */
describe('the limiter’s scripts and Redis-side failures', () => {
  let redis: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.kill();
  });

  it('loads no script without a key, and when Redis lost its scripts (a promoted replica), then counting still works', async () => {
    const store = redisLimitStore(client, new Keys('{t}'), 'bearer');
    await store.init({ windowMs: 60_000 } as never);
    expect(await client.script('EXISTS', '0'.repeat(40))).toEqual([0]);
    expect((await store.increment('1.2.3.4')).totalHits).toBe(1);
    await client.script('FLUSH');
    expect((await store.increment('1.2.3.4')).totalHits).toBe(2);
    await client.script('FLUSH');
    expect((await store.get('1.2.3.4'))?.totalHits).toBe(2);
  });

  it.each([
    ['NOSCRIPT', 'NOSCRIPT No matching script. Please use EVAL.'],
    ['any other reply error', 'WRONGTYPE Operation against a key holding the wrong kind of value'],
  ])('when a request fails with %s from Redis, then it is 503 redis_unavailable, not 500', async (_what, message) => {
    const app = express();
    app.get('/x', (_req, _res, next) => next(Object.assign(new Error(message), { name: 'ReplyError' })));
    app.use(errorHandler({ error: () => undefined } as never));
    const server = app.listen(0);
    try {
      const port = (server.address() as { port: number }).port;
      const reply = await request(`http://127.0.0.1:${port}/x`);
      expect(reply.status).toBe(503);
      expect(reply.json.error.code).toBe('redis_unavailable');
    } finally {
      server.close();
    }
  });
});

describe('exactly once around the report add (issue 19, item 4)', () => {
  /** The service with its first `failures` Idempotency-Key answer stores failing; `send` posts one report with `key`. */
  async function failingStores(failures: number, key: string) {
    t = await startTestHttp(RULES, {}, { worker: false });
    const deps = httpDeps(t.cg);
    const finish = deps.idempotency.finish.bind(deps.idempotency);
    let left = failures;
    deps.idempotency.finish = async (k, reply) => {
      if (left-- > 0) throw Object.assign(new Error('Connection is closed.'), { name: 'Error' });
      return finish(k, reply);
    };
    const http = await startHttpServer(deps, { port: 0, host: '127.0.0.1' });
    const send = () =>
      postJson(
        `${http.url}/health/errors`,
        { rule: 'twilio', count: 3 },
        { token: tokenOf('alerts'), headers: { 'idempotency-key': key } },
      );
    return { http, send, events: t.cg.events };
  }

  it('when storing the Idempotency-Key answer fails after the job was added, then the key is not released and a retry counts nothing', async () => {
    const { http, send, events } = await failingStores(1, 'k-1');
    try {
      const first = await send();
      expect(first.status).toBe(202);
      const again = await send();
      // Still claimed (409) or answered as the first (once the retried store landed): never counted twice.
      expect([409, 202]).toContain(again.status);
      if (again.status === 202) expect(again.json.job_id).toBe(first.json.job_id);
      expect(await events.getJobCountByTypes('waiting')).toBe(1);
    } finally {
      await http.close();
    }
  });

  it('when storing the answer fails five times in a row, then it is still stored while the claim holds the key, and a retry gets the first answer', async () => {
    const { http, send, events } = await failingStores(5, 'k-2');
    try {
      const first = await send();
      expect(first.status).toBe(202);
      const again = await waitFor(
        async () => {
          const r = await send();
          expect([409, 202]).toContain(r.status);
          return r.status === 202 && r;
        },
        { timeoutMs: 30_000, what: 'the retry answered as the first request' },
      );
      expect(again.json.job_id).toBe(first.json.job_id);
      expect(await events.getJobCountByTypes('waiting')).toBe(1);
    } finally {
      await http.close();
    }
  });

  it('when a batch waited past the add’s budget behind one in flight, then it is not sent: it cannot land after its 503', async () => {
    const add = vi.fn();
    const deps = { events: { add } as never, counters: {} as never, redisHealth: { available: () => true } };
    await expect(enqueueReport(deps, { twilio: 1 }, 800)).rejects.toMatchObject({ code: 'redis_unavailable' });
    expect(add).not.toHaveBeenCalled();
  });
});
