import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { ticks } from '../support/fences.js';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';
import { CONCURRENCY, Dispatch } from './dispatch.js';
import { LoggingApp, MAX_STALL_MS, stalls } from './logging-app.js';
import { auditedAt, CallguardProcess, eventsIdle, Observer, processEnv, resume } from './support.js';
import { figure } from '../support/figures.js';

const RULE = 'provider_down';
const THRESHOLD = 5;
// What the logging app alongside logs: counted for a rule of its own, out of reach, so it never trips.
const APP_RULE = 'upstream_timeout';

describe('fault: Redis restarted empty under a running callguard', () => {
  let redis: PrivateRedis;
  let dir: string;
  let p: CallguardProcess | undefined;
  beforeAll(async () => {
    await ensureBuilt();
    redis = await PrivateRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'cg-empty-'));
  });
  afterAll(async () => {
    await p?.kill();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('callguard notices the lost state once, and counts and trips again on the empty Redis without a restart', async () => {
    const rulesPath = join(dir, 'rules.json');
    writeFileSync(
      rulesPath,
      JSON.stringify({
        [RULE]: { threshold_count: THRESHOLD, window_minutes: 600, log_patterns: ['provider down'] },
        [APP_RULE]: { threshold_count: 100_000_000, window_minutes: 600, log_patterns: ['upstream timeout'] },
      }),
    );
    const env = await processEnv(redis.url, { CALLGUARD_RULES: rulesPath });
    p = await CallguardProcess.start(env);
    const o = new Observer(redis.url, env);
    const d = new Dispatch(o.calls, redis.url, env);
    const app = LoggingApp.start(env, { perTick: 5, message: 'upstream timeout: the call failed' });
    // The same app idle, alongside: how much the machine alone (2 loaded cores) stalls an event loop.
    const control = LoggingApp.start(env, { perTick: 0 });
    try {
      await Promise.all([app.warmedUp, control.warmedUp]);
      await d.feed(30, 'before');
      const before = await d.drained();
      // No job is fed during the first hold: a job waiting in a Redis restarted without persistence goes with its data.
      await o.report(RULE, THRESHOLD, 'before');
      await waitFor(async () => (await o.calls.isPaused()) && (await o.holds()).length === 1, { timeoutMs: 30_000 });

      await redis.restart();
      const restartedAt = Date.now();
      // The hold and the queue's paused flag went with the data; callguard says so, once.
      const lostEntries = await waitFor(
        async () => {
          const entries = (await o.audit()).filter((a) => a.event === 'state-lost');
          return entries.length ? entries : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const noticedMs = Date.now() - restartedAt;
      const lost = { paused: await o.calls.isPaused(), holds: await o.holds() };
      const announced = await waitFor(() => o.notifications.getJob(`state-lost-${lostEntries[0]!.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`), {
        timeoutMs: 30_000,
      });
      // The evaluator schedule comes back (re-created on reconnect), so the service is whole again.
      await waitFor(async () => (await o.events.getJobScheduler('evaluate')) !== undefined, { timeoutMs: 30_000 });
      const scheduleBackMs = Date.now() - restartedAt;
      // The hold went with the data: the queue runs again, jobs fed now run at once.
      await d.feed(20, 'lost');

      await o.report(RULE, THRESHOLD, 'after');
      await waitFor(async () => (await o.calls.isPaused()) && (await o.holds()).length === 1, { timeoutMs: 30_000 });
      const tripBackMs = Date.now() - restartedAt;
      await eventsIdle(o.events, 30_000);
      const stored = await o.stored(RULE);
      const lostAfter = (await o.audit()).filter((a) => a.event === 'state-lost').length;
      figure(
        `[Redis restarted empty] after it: queue paused ${lost.paused}, holds [${lost.holds.join(',')}]; state-lost audit entries ${lostAfter} (noticed ${noticedMs} ms after the restart), its message ${announced ? 'enqueued' : 'missing'}; ` +
          `evaluator schedule back after ${scheduleBackMs} ms; tripped again ${tripBackMs} ms after the restart; counts expected ${THRESHOLD} stored ${stored}`,
      );
      expect(lost).toEqual({ paused: false, holds: [] });
      expect(lostAfter).toBe(1);
      expect(announced.name).toBe('state-lost');
      expect(stored).toBe(THRESHOLD);
      const trips = (await o.audit()).filter((a) => a.paused.includes('calls'));
      expect(trips).toHaveLength(1);

      // Held again: jobs fed now wait (fence: an evaluator tick after they were fed), then the resume runs them.
      await d.feed(20, 'held');
      await ticks(o.events);
      const releasedAt = Date.now();
      await resume(env);
      const jobs = await d.drained(d.fed.length - before.in);
      const heldAt = auditedAt(trips[0]!);
      const whileHeld = d.callsBetween(heldAt, releasedAt);
      figure(
        `[Redis restarted empty] dispatch: jobs in ${jobs.in} (${before.in} before the restart), completed ${before.completed} before + ${jobs.completed} after, failed ${before.failed + jobs.failed}, provider calls ${jobs.providerCalls}, called twice ${jobs.calledTwice.length}, never called ${jobs.neverCalled.length}; ` +
          `calls while held after the restart ${whileHeld.length}${whileHeld.length ? ` (at +${whileHeld.join('/')} ms)` : ''} (held ${releasedAt - heldAt} ms, concurrency ${CONCURRENCY})`,
      );
      expect(before.completed + jobs.completed).toBe(jobs.in);
      expect(before.failed + jobs.failed).toBe(0);
      expect(jobs.calledTwice).toEqual([]);
      expect(jobs.neverCalled).toEqual([]);
      expect(jobs.providerCalls).toBe(jobs.in);
      // Only calls whose hold check passed just before the hold landed may start after it.
      expect(whileHeld.length).toBeLessThanOrEqual(CONCURRENCY);

      const idle = await control.stop();
      const logging = await app.stop();
      const sent = logging.reporter.reported - logging.reporter.dropped;
      await eventsIdle(o.events, 30_000);
      // What was counted before the restart went with the data: only no loss by the app, and no count twice.
      const appStored = await o.stored(APP_RULE);
      figure(
        `[Redis restarted empty] logging app: logged ${logging.logged}, reported ${logging.reporter.reported}, dropped ${logging.reporter.dropped}, failed flushes ${logging.reporter.failedFlushes}, stored after the restart ${appStored}; ` +
          `${stalls(logging, idle)}; close ${logging.closeMs} ms`,
      );
      expect(logging.reporter.dropped).toBe(0);
      expect(logging.reporter.reported).toBe(logging.logged);
      expect(appStored).toBeGreaterThan(0);
      expect(appStored).toBeLessThanOrEqual(sent);
      expect(logging.onCpuMaxStallMs).toBeLessThanOrEqual(MAX_STALL_MS + idle.onCpuMaxStallMs);
    } finally {
      app.kill();
      control.kill();
      await d.close();
      await o.close();
    }
  });
});
