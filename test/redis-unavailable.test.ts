import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { assertReachable, connectRedis, RedisUnreachableError } from '../src/store/redis.js';
import { freePort, PrivateRedis } from './support/redis-server.js';
import { request, startTestHttp, stopTestHttp, USERS, type TestHttp } from './support/http.js';
import { waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const RULES = { twilio: { threshold_count: 1000, window_minutes: 10, log_patterns: ['twilio down'] } };

async function reason(redisUrl: string, timeoutMs = 1500): Promise<string> {
  const redis = connectRedis({ redisUrl, clusterNodes: [] });
  redis.on('error', () => undefined);
  try {
    await assertReachable(redis, { redisUrl, clusterNodes: [] }, timeoutMs);
    return 'reachable';
  } catch (err) {
    expect(err).toBeInstanceOf(RedisUnreachableError);
    expect((err as Error).message).toContain((err as RedisUnreachableError).reason);
    return (err as RedisUnreachableError).reason;
  } finally {
    redis.disconnect();
  }
}

describe('start-up tells why Redis is not reachable', () => {
  it('when nothing listens on the port, then "connection refused"', async () => {
    expect(await reason(`redis://127.0.0.1:${await freePort()}`)).toBe('connection refused');
  });

  it('when the host name does not resolve, then "host not found"', async () => {
    expect(await reason('redis://callguard-no-such-host.invalid:6379')).toBe('host not found');
  });

  it('when something accepts the connection but never answers, then "timed out"', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as { port: number };
      expect(await reason(`redis://127.0.0.1:${port}`, 800)).toBe('timed out');
    } finally {
      silent.close();
    }
  });
});

describe('HTTP while Redis is away', () => {
  let t: TestHttp | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    redis?.thaw();
    await stopTestHttp(t);
    t = undefined;
    await redis?.stop();
    redis = undefined;
  });

  const timed = async (path: string, init: Parameters<typeof request>[1]) => {
    const started = performance.now();
    const reply = await request(`${t!.url}${path}`, init);
    return { reply, ms: Math.round(performance.now() - started) };
  };
  const report = (count: number) =>
    timed('/health/errors', {
      method: 'POST',
      token: USERS.alerts.secret,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rule: 'twilio', count }),
    });

  it('when Redis freezes, then reads, pauses and reports answer 503 redis_unavailable within a second, and a report answered 503 is never counted', async () => {
    redis = await PrivateRedis.start();
    t = await startTestHttp(RULES, { REDIS_URL: redis.url });
    expect((await report(1)).reply.status).toBe(202);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio === 1);

    redis.freeze();
    // The first report is sent before callguard can know: its add is on the wire when Redis stops.
    const first = await report(5);
    const service = await timed('/health/service', { token: USERS.viewer.secret });
    const pause = await timed('/health/pause', {
      method: 'POST',
      token: USERS.admin.secret,
      headers: { 'content-type': 'application/json' },
      body: '{"reason":"test"}',
    });
    const second = await report(7);
    figure(
      `[redis frozen] 503 after: report ${first.ms} ms, /health/service ${service.ms} ms, /health/pause ${pause.ms} ms, report ${second.ms} ms`,
    );
    for (const { reply, ms } of [first, service, pause, second]) {
      expect(reply.status).toBe(503);
      expect(reply.json.error.code).toBe('redis_unavailable');
      // A second, plus scheduling slack on a loaded machine.
      expect(ms).toBeLessThan(1500);
    }

    redis.thaw();
    await waitFor(() => t!.cg.redisHealth.available());
    // Fence: a report after the thaw is counted; the two answered 503 never are.
    expect((await report(100)).reply.status).toBe(202);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio! >= 101);
    await waitFor(async () => (await t!.cg.events.getWaitingCount()) + (await t!.cg.events.getActiveCount()) === 0);
    expect((await t.cg.counters.sums()).counts.twilio).toBe(101);
  });

  it('when Redis is down, then routes answer 503 at once (nothing queued to land later)', async () => {
    redis = await PrivateRedis.start();
    t = await startTestHttp(RULES, { REDIS_URL: redis.url });
    await redis.stop();
    await waitFor(() => !t!.cg.redisHealth.available());
    const down = await report(3);
    expect(down.reply.status).toBe(503);
    expect(down.reply.json.error.code).toBe('redis_unavailable');
    expect(down.ms).toBeLessThan(500);
    await redis.restart();
    await waitFor(() => t!.cg.redisHealth.available(), { timeoutMs: 15_000 });
    expect((await report(2)).reply.status).toBe(202);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio === 2);
    await waitFor(async () => (await t!.cg.events.getWaitingCount()) + (await t!.cg.events.getActiveCount()) === 0);
    expect((await t.cg.counters.sums()).counts.twilio).toBe(2);
  });
});
