import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys } from '../src/store/keys.js';
import { ReplayGuard } from '../src/store/replay.js';
import { cleanup, testConfig } from './support/harness.js';

const config = testConfig();
const redis = new Redis(config.redisUrl);
const keys = new Keys(config.prefix);
const guard = new ReplayGuard(redis, keys);
afterAll(async () => {
  await cleanup(config);
  redis.disconnect();
});

async function redisNowMs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('replay markers', () => {
  it('when a timed signature is first used, then its marker expires on Redis’ clock at the end of its window plus the skew margin, whatever this host’s clock says', async () => {
    const validUntil = (await redisNowMs()) + 120_000;
    expect(await guard.firstUse('callguard', 'AB12', validUntil, 300_000)).toBe(true);
    expect(await guard.firstUse('callguard', 'ab12', validUntil, 300_000)).toBe(false);
    // PEXPIRETIME is the absolute expiry in Unix ms on Redis' clock.
    expect(Number(await redis.call('PEXPIRETIME', keys.signatureSeen('callguard', 'ab12')))).toBe(validUntil + 5 * 60_000);
  });

  it('when an untimed signature is first used, then it is remembered for the untimed window, and a repeat is refused', async () => {
    expect(await guard.firstUse('grafana', 'cd34', undefined, 300_000)).toBe(true);
    expect(await guard.firstUse('grafana', 'cd34', undefined, 300_000)).toBe(false);
    const ttl = await redis.pttl(keys.signatureSeen('grafana', 'cd34'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300_000);
  });
});
