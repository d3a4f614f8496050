import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from '../support/build.js';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';
import { CONCURRENCY, Dispatch } from './dispatch.js';
import { checkLoggingApp, LoggingApp } from './logging-app.js';
import { auditedAt, CallguardProcess, eventsIdle, Observer, processEnv, resume } from './support.js';
import { figure } from '../support/figures.js';

const RULE = 'provider_down';
const THRESHOLD = 10;
const DELAYS_MS = [0, 2, 5, 10, 20, 35, 50, 100];
// What the logging app alongside logs: counted for a rule of its own, out of reach, so it never trips.
const APP_RULE = 'upstream_timeout';

describe('fault: kill -9 of a real callguard process', () => {
  let redis: PrivateRedis;
  let dir: string;
  let rulesPath: string;
  const running: CallguardProcess[] = [];
  // One app logging through the sink for the whole file, through every trial's kill -9 (same Redis),
  // on prefixes of its own whose callguard is killed -9 too; the same app idle alongside it.
  let appEnv: Record<string, string>;
  let appGuard: CallguardProcess;
  let app: LoggingApp | undefined;
  let control: LoggingApp | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    redis = await PrivateRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'cg-crash-'));
    rulesPath = join(dir, 'rules.json');
    writeFileSync(
      rulesPath,
      JSON.stringify({
        [RULE]: { threshold_count: THRESHOLD, window_minutes: 600, log_patterns: ['provider down'] },
        [APP_RULE]: { threshold_count: 100_000_000, window_minutes: 600, log_patterns: ['upstream timeout'] },
      }),
    );
    appEnv = await processEnv(redis.url, { CALLGUARD_RULES: rulesPath });
    appGuard = await start(appEnv);
    app = LoggingApp.start(appEnv, { perTick: 5, message: 'upstream timeout: the call failed' });
    control = LoggingApp.start(appEnv, { perTick: 0 });
    await Promise.all([app.warmedUp, control.warmedUp]);
  });
  afterAll(async () => {
    app?.kill();
    control?.kill();
    for (const p of running) await p.kill();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>) {
    const p = await CallguardProcess.start(env);
    running.push(p);
    return p;
  }

  // Trials run side by side (own prefixes, own processes): a report in flight at the kill runs
  // again once its lock lapsed and a stalled check saw it (CALLGUARD_JOB_LOCK_SECONDS, 5 s, each).
  it.concurrent.each(DELAYS_MS)(
    'killed %i ms after the threshold-crossing report, then restarted: the pause holds, counts are exact, one transition',
    async (delay) => {
      const env = await processEnv(redis.url, { CALLGUARD_RULES: rulesPath });
      const o = new Observer(redis.url, env);
      // The app's guarded dispatch worker keeps running (and being fed) through the kill.
      const d = new Dispatch(o.calls, redis.url, env);
      try {
        let p = await start(env);
        await d.feed(20, 'before');
        for (let i = 1; i < THRESHOLD; i++) await o.report(RULE, 1, `r-${i}`);
        await waitFor(async () => (await o.stored(RULE)) === THRESHOLD - 1, { timeoutMs: 30_000 });
        d.start('during');
        await o.report(RULE, 1, 'crossing');
        await new Promise((r) => setTimeout(r, delay));
        await p.kill();
        const killedAt = Date.now();
        const stateAtKill = { paused: await o.calls.isPaused(), crossing: await (await o.events.getJob('crossing'))?.getState() };

        p = await start(env);
        // A report still active when the process died comes back after its lock expires (BullMQ's stalled check).
        await waitFor(async () => (await o.calls.isPaused()) && (await o.holds()).includes(`rule:${RULE}`), { timeoutMs: 90_000 });
        await waitFor(async () => (await (await o.events.getJob('crossing'))?.getState()) === 'completed', { timeoutMs: 90_000 });
        const pausedAfterMs = Date.now() - killedAt;
        await d.stop();
        const stored = await o.stored(RULE);
        const audit = await o.audit();
        // Killed between committing the hold and pausing the queue, the restart's start-up evaluation
        // pauses it and audits a drift repair: enforcement catching up, announced by the hold's message.
        const repairs = audit.filter((a) => a.event === 'drift-repaired');
        const transitions = audit.filter((a) => a.event !== 'drift-repaired' && a.paused.includes('calls'));
        // The outbox: the transition's message is a notification job named by its audit id, even if the kill came first.
        const messages = await waitFor(
          async () => ((await o.changeMessages()).length >= transitions.length ? o.changeMessages() : undefined),
          { timeoutMs: 60_000, what: 'one notification job per pause transition' },
        ).catch(async (err: Error) => {
          const cursor = await o.redis.get(o.keys.notifyCursor);
          throw new Error(
            `${err.message}; at kill ${JSON.stringify(stateAtKill)}; audit ${JSON.stringify(await o.audit())}; outbox cursor ${cursor}; messages ${JSON.stringify(await o.changeMessages())}`,
          );
        });
        figure(
          `[kill -9 +${delay} ms] at kill: paused ${stateAtKill.paused}, crossing report ${stateAtKill.crossing}; after restart: paused, and the crossing report settled, within ${pausedAfterMs} ms; counts expected ${THRESHOLD} stored ${stored}; pause transitions ${transitions.length}, drift repairs ${repairs.length}, messages ${messages.length}`,
        );
        expect(stored).toBe(THRESHOLD);
        expect(transitions.map((t) => t.event)).toEqual(['hold-added']);
        expect(messages).toEqual(transitions.map((t) => `change-${t.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`));
        expect(repairs.length).toBeLessThanOrEqual(1);
        if (repairs.length) expect(stateAtKill.paused).toBe(false);

        // Killed while paused: the restarted process (its start-up evaluation done) keeps the pause
        // and has nothing to add to the audit.
        await p.kill();
        p = await start(env);
        expect(await o.calls.isPaused()).toBe(true);
        expect(await o.holds()).toEqual([`rule:${RULE}`]);
        expect(await o.stored(RULE)).toBe(THRESHOLD);
        expect(await o.audit()).toEqual(audit);
        expect(await o.changeMessages()).toEqual(messages);

        // Jobs fed while held wait; the operator's resume lets every job run, each exactly once.
        await d.feed(10, 'held');
        const releasedAt = Date.now();
        await resume(env);
        const jobs = await d.drained();
        const heldAt = auditedAt(transitions[0]!);
        const whileHeld = d.callsBetween(heldAt, releasedAt);
        figure(
          `[kill -9 +${delay} ms] dispatch: jobs in ${jobs.in}, completed ${jobs.completed}, failed ${jobs.failed}, provider calls ${jobs.providerCalls}, called twice ${jobs.calledTwice.length}, never called ${jobs.neverCalled.length}; calls while held ${whileHeld.length}${whileHeld.length ? ` (at +${whileHeld.join('/')} ms)` : ''} (held ${releasedAt - heldAt} ms, concurrency ${CONCURRENCY})`,
        );
        expect(jobs.failed).toBe(0);
        expect(jobs.completed).toBe(jobs.in);
        expect(jobs.calledTwice).toEqual([]);
        expect(jobs.neverCalled).toEqual([]);
        expect(jobs.providerCalls).toBe(jobs.in);
        // Only calls whose hold check passed just before the hold landed may start after it.
        expect(whileHeld.length).toBeLessThanOrEqual(CONCURRENCY);
        await p.kill();
      } finally {
        await d.close();
        await o.close();
      }
    },
  );

  it('the app logging through the sink all along: no stall, nothing dropped, every count stored once though its callguard is killed -9', async () => {
    const o = new Observer(redis.url, appEnv);
    try {
      await appGuard.kill();
      await start(appEnv);
      const idle = await control!.stop();
      const logging = await app!.stop();
      // A report in flight at the kill runs again once its lock lapsed and a stalled check saw it.
      await eventsIdle(o.events, 90_000);
      checkLoggingApp(
        `[kill -9] logging app (through ${DELAYS_MS.length} trials and a kill -9 of its own callguard)`,
        logging,
        idle,
        await o.stored(APP_RULE),
      );
    } finally {
      await o.close();
    }
  });
});
