import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';
import { checkLoggingApp, LoggingApp } from './logging-app.js';
import { CallguardProcess, eventsIdle, Observer, processEnv } from './support.js';

const RULE = 'provider_down';
const FREEZE_MS = 20_000;

describe('fault: Redis frozen (SIGSTOP) for 20 s during an error storm', () => {
  let redis: PrivateRedis;
  let dir: string;
  let health: CallguardProcess | undefined;
  beforeAll(async () => {
    await ensureBuilt();
    redis = await PrivateRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'cg-storm-'));
  });
  afterAll(async () => {
    redis?.thaw();
    await health?.kill();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the app logging through the sink never stalls over 50 ms, and every count it reported is stored after the thaw', async () => {
    const rulesPath = join(dir, 'rules.json');
    // A threshold out of reach: this test is about counting, not tripping.
    writeFileSync(
      rulesPath,
      JSON.stringify({ [RULE]: { threshold_count: 100_000_000, window_minutes: 600, log_patterns: ['provider down'] } }),
    );
    const env = await processEnv(redis.url, { CALLGUARD_RULES: rulesPath });
    health = await CallguardProcess.start(env, 'health');
    const o = new Observer(redis.url, env);
    try {
      const app = LoggingApp.start(env, { perTick: 20, durationMs: FREEZE_MS + 6000 });
      // The same app idle, alongside: how much the machine alone (2 loaded cores) stalls an event loop.
      const control = LoggingApp.start(env, { perTick: 0, durationMs: FREEZE_MS + 6000 });
      await Promise.all([app.warmedUp, control.warmedUp]);
      // Freeze mid-storm: once counts flow end to end (reported, enqueued, counted in Redis).
      await waitFor(async () => (await o.stored(RULE)) > 0, { timeoutMs: 30_000 });
      redis.freeze();
      await new Promise((r) => setTimeout(r, FREEZE_MS));
      redis.thaw();
      const thawedAt = Date.now();
      const idle = await control.stop();
      const result = await app.stop();
      const expected = result.reporter.reported - result.reporter.dropped;
      await waitFor(async () => (await o.stored(RULE)) >= expected, { timeoutMs: 60_000 }).catch(() => undefined);
      await eventsIdle(o.events, 60_000);
      checkLoggingApp(
        `[storm, Redis frozen ${FREEZE_MS / 1000} s]`,
        result,
        idle,
        await o.stored(RULE),
        ` (all stored ${Date.now() - thawedAt} ms after the thaw; freeze from ~3000 to ~${3000 + FREEZE_MS} ms since start)`,
      );
    } finally {
      await o.close();
    }
  });
});
