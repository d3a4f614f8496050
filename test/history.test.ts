import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { History, HISTORY_MINUTES } from '../src/store/history.js';
import { Keys } from '../src/store/keys.js';
import { deleteKeys, withScripts } from '../src/store/redis.js';
import { figure } from './support/figures.js';
import { REDIS_URL, waitFor } from './support/harness.js';

// Hour-long "minutes" (the length is configurable), and each test starts away from a minute's
// end, so the minute a test writes is the one its copy and read see.
const MINUTE_MS = 3_600_000;
const RING_BYTES = HISTORY_MINUTES * 8;
// A ring written whole carries one byte past its slots: the mark that it need not be written again.
const WHOLE_RING_BYTES = RING_BYTES + 1;
// jemalloc's size class for one ring written whole; a ring grown slot by slot took about 20 kB.
const WHOLE_RING_MEMORY = 13_000;

const prefix = `{cgtest-history-${randomBytes(4).toString('hex')}}`;
const redis = withScripts(new Redis(REDIS_URL));
const keys = new Keys(prefix);

afterAll(async () => {
  await deleteKeys(redis, `${prefix}:*`);
  redis.disconnect();
});

async function memoryOf(key: string): Promise<number> {
  return Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
}

/** The minute now on Redis' clock, and a counter with a count in each of the last three minutes. */
async function counterWithCounts(name: string): Promise<number> {
  const history = new History(redis, keys, MINUTE_MS);
  await waitFor(async () => (await history.now()) % MINUTE_MS < MINUTE_MS - 30_000, {
    timeoutMs: 40_000,
    what: 'the minute to be more than 30 s from its end',
  });
  const current = Math.floor((await history.now()) / MINUTE_MS);
  await redis.hset(keys.counts(name), { [current - 1]: 4, [current - 2]: 5, [current - 3]: 6 });
  return current;
}

describe('History rings (24-hour per-minute counts)', () => {
  it('when a counter is first copied, then its ring is written whole and takes its size in memory', async () => {
    const current = await counterWithCounts('fresh');
    const history = new History(redis, keys, MINUTE_MS);
    await history.record(() => ['fresh']);
    expect(await redis.strlen(keys.history('fresh'))).toBe(WHOLE_RING_BYTES);
    const bytes = await memoryOf(keys.history('fresh'));
    figure(`a ring written whole: ${bytes} bytes in Redis for ${RING_BYTES} of slots`);
    expect(bytes).toBeLessThanOrEqual(WHOLE_RING_MEMORY);
    const slot = ((current - 1) % HISTORY_MINUTES) * 2;
    expect(await redis.call('BITFIELD', keys.history('fresh'), 'GET', 'u32', `#${slot}`, 'GET', 'u32', `#${slot + 1}`)).toEqual([
      current - 1,
      4,
    ]);
    const read = await history.read(['fresh'], current - 3, current - 1);
    expect(read.fresh).toEqual([6, 5, 4]);
    expect(await redis.pttl(keys.history('fresh'))).toBeGreaterThan(0);
  });

  it('when a ring an earlier version grew slot by slot is copied into, then it is written whole once and keeps its counts', async () => {
    const current = await counterWithCounts('grown');
    const ring = keys.history('grown');
    // As BITFIELD left it, one minute at a time over a day: Redis grew the string ahead of each write.
    const pipe = redis.pipeline();
    for (let m = current - HISTORY_MINUTES; m < current - 3; m++) {
      const slot = m % HISTORY_MINUTES;
      pipe.call('BITFIELD', ring, 'SET', 'u32', `#${slot * 2}`, m, 'SET', 'u32', `#${slot * 2 + 1}`, 1);
    }
    await pipe.exec();
    expect(await redis.strlen(ring)).toBe(RING_BYTES);
    const before = await memoryOf(ring);

    const history = new History(redis, keys, MINUTE_MS);
    await history.record(() => ['grown']);
    const after = await memoryOf(ring);
    figure(`a ring grown slot by slot: ${before} bytes in Redis; written whole at its next copy: ${after}`);
    expect(before).toBeGreaterThan(WHOLE_RING_MEMORY);
    expect(after).toBeLessThanOrEqual(WHOLE_RING_MEMORY);
    expect(await redis.strlen(ring)).toBe(WHOLE_RING_BYTES);
    const read = await history.read(['grown'], current - 6, current - 1);
    expect(read.grown).toEqual([1, 1, 1, 6, 5, 4]);
  });
});
