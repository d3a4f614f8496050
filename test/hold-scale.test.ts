import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Callguard } from '../src/app/callguard.js';
import { HOLDS_PER_STEP } from '../src/store/holds.js';
import { measureResumeAll } from '../bench/p9-holds.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';
import { PrivateRedis } from './support/redis-server.js';
import { figure } from './support/figures.js';

const HOLDS = 10_000;

/** A resume-all at 10,000 alert holds, on a private redis-server whose SLOWLOG times every command. */
describe('hold changes at scale', () => {
  let server: PrivateRedis;
  let admin: Redis;
  let cg: Callguard;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    admin = new Redis(server.url);
    cg = await startTestCallguard(
      {},
      { REDIS_URL: server.url, CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_MAX_ALERT_HOLDS: String(HOLDS) },
      { worker: false },
    );
  });
  afterAll(async () => {
    await stopTestCallguard(cg);
    admin?.disconnect();
    await server?.stop();
  });

  it('when an admin resumes 10,000 alert holds, then every script call handles a bounded step and Redis keeps answering', async () => {
    const f = await measureResumeAll(cg, admin, HOLDS);
    figure(
      `resume-all of ${HOLDS} alert holds: ${f.steps} steps of at most ${f.maxHoldsPerStep} holds; hold-change script ` +
        `median ${f.holdScriptMs.median} ms, longest ${f.holdScriptMs.max} ms (longest command ${f.longestCommand} ${f.longestCommandMs} ms); ` +
        `max PING ${f.maxPingMs.toFixed(1)} ms over ${f.pings} pings; ${Math.round(f.resumeMs)} ms in all`,
    );
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.ledger.coveredQueues()).toEqual(new Set());
    expect(f.holdScriptMs.calls).toBe(HOLDS / HOLDS_PER_STEP);
    expect(f.maxHoldsPerStep).toBe(HOLDS_PER_STEP);
    // The design bound is 20 ms per call; on a loaded 2-core machine single calls get descheduled,
    // so the median carries the assertion and the longest is printed.
    expect(f.holdScriptMs.median).toBeLessThanOrEqual(20);
  }, 120_000);
});
