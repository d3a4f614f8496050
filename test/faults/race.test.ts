import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallguard, type Callguard } from '../../src/app/callguard.js';
import { loadConfig } from '../../src/app/config.js';
import { loadRulesFile } from '../../src/store/rules-file.js';
import { createLogger } from '../../src/ops/logger.js';
import { ensureBuilt } from '../support/build.js';
import { waitFor } from '../support/harness.js';
import { PrivateRedis } from '../support/redis-server.js';
import { CONCURRENCY, Dispatch } from './dispatch.js';
import { checkLoggingApp, LoggingApp } from './logging-app.js';
import { auditedAt, CallguardProcess, eventsIdle, Observer, processEnv } from './support.js';
import { figure } from '../support/figures.js';

const RULE = 'provider_down';
const THRESHOLD = 3;
const CYCLES = 50;
const WORKERS = 3;
// What the logging app alongside logs: counted for a rule of its own, out of reach, so it never trips.
const APP_RULE = 'upstream_timeout';

describe('fault: three health workers racing through trip/resume cycles', () => {
  let redis: PrivateRedis;
  let dir: string;
  const workers: CallguardProcess[] = [];
  let operator: Callguard | undefined;
  beforeAll(async () => {
    await ensureBuilt();
    redis = await PrivateRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'cg-race-'));
  });
  afterAll(async () => {
    await operator?.stop({ graceMs: 1000 }).catch(() => undefined);
    for (const w of workers) await w.kill();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${CYCLES} cycles: exactly one pause and one resume transition per trip, counts exact`, async () => {
    const rulesPath = join(dir, 'rules.json');
    writeFileSync(
      rulesPath,
      JSON.stringify({
        [RULE]: { threshold_count: THRESHOLD, window_minutes: 600, log_patterns: ['provider down'] },
        [APP_RULE]: { threshold_count: 100_000_000, window_minutes: 600, log_patterns: ['upstream timeout'] },
      }),
    );
    const env = await processEnv(redis.url, { CALLGUARD_RULES: rulesPath });
    workers.push(...(await Promise.all(Array.from({ length: WORKERS }, () => CallguardProcess.start(env, 'health')))));
    // The person pressing "resume": a callguard without a worker of its own.
    const config = loadConfig(env);
    operator = await createCallguard(config, loadRulesFile(rulesPath, config.queues).rules, { logger: createLogger('silent') });
    const o = new Observer(redis.url, env);
    const d = new Dispatch(o.calls, redis.url, env);
    // An app logging through the sink all through the race, its reports counted by the racing workers.
    const app = LoggingApp.start(env, { perTick: 5, message: 'upstream timeout: the call failed' });
    // The same app idle, alongside: how much the machine alone (2 loaded cores) stalls an event loop.
    const control = LoggingApp.start(env, { perTick: 0 });
    try {
      await Promise.all([app.warmedUp, control.warmedUp]);
      const storedAtTrip: number[] = [];
      const releasedAt: number[] = [];
      const started = Date.now();
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        // Dispatch jobs fed as the trip comes, and while held.
        await d.feed(2, `c${cycle}-before`);
        // Three reports of one each, so the workers race on the counting and the fast trip.
        await Promise.all(Array.from({ length: THRESHOLD }, (_, i) => o.report(RULE, 1, `c${cycle}-${i}`)));
        await waitFor(async () => (await o.calls.isPaused()) && (await o.holds()).length === 1, { timeoutMs: 30_000 });
        await eventsIdle(o.events, 30_000);
        storedAtTrip.push(await o.stored(RULE));
        await d.feed(2, `c${cycle}-held`);
        releasedAt.push(Date.now());
        await operator.control.resume({ by: 'fault-operator' });
        await waitFor(async () => !(await o.calls.isPaused()), { timeoutMs: 30_000 });
      }
      const elapsed = Date.now() - started;
      // Stopped before the fence, whose evaluator tick is looked for among the last completed jobs.
      const idle = await control.stop();
      const logging = await app.stop();
      // Fence: an evaluator tick after the last resume, by whichever worker, has run and changed nothing.
      const before = (await o.audit()).length;
      const tickAfter = Date.now();
      await waitFor(
        async () => (await o.events.getCompleted(0, 20)).some((j) => j.name === 'evaluate' && (j.finishedOn ?? 0) > tickAfter + 1000),
        { timeoutMs: 30_000 },
      );
      const audit = await o.audit();
      const pauses = audit.filter((a) => a.paused.includes('calls'));
      const resumes = audit.filter((a) => a.resumed.includes('calls'));
      const added = audit.filter((a) => a.event === 'hold-added').length;
      const released = audit.filter((a) => a.event === 'hold-released').length;
      const drift = audit.filter((a) => a.event === 'drift-repaired').length;
      const wrong = storedAtTrip.filter((n) => n !== THRESHOLD).length;
      const transitionIds = [...pauses, ...resumes].map((t) => `change-${t.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`).sort();
      const messages = await waitFor(
        async () => ((await o.changeMessages()).length >= transitionIds.length ? o.changeMessages() : undefined),
        { timeoutMs: 60_000 },
      );
      const jobs = await d.drained();
      const whileHeld = pauses.map((p, i) => d.callsBetween(auditedAt(p), releasedAt[i]!).length);
      figure(
        `[${WORKERS} workers racing] dispatch: jobs in ${jobs.in}, completed ${jobs.completed}, failed ${jobs.failed}, provider calls ${jobs.providerCalls}, called twice ${jobs.calledTwice.length}, never called ${jobs.neverCalled.length}; calls while held ${whileHeld.reduce((a, b) => a + b, 0)} over ${pauses.length} holds (most in one ${Math.max(0, ...whileHeld)}, concurrency ${CONCURRENCY})`,
      );
      figure(
        `[${WORKERS} workers racing] ${CYCLES} trips in ${elapsed} ms: pause transitions ${pauses.length} (${(pauses.length / CYCLES).toFixed(2)} per trip), resume transitions ${resumes.length} (${(resumes.length / CYCLES).toFixed(2)} per trip), ` +
          `holds added ${added} / released ${released}, drift repairs ${drift}; messages ${messages.length} for ${transitionIds.length} transitions; counts at each trip expected ${THRESHOLD}, ${CYCLES - wrong} of ${CYCLES} exact (stored ${[...new Set(storedAtTrip)].join('/')}); audit entries after the fence +${audit.length - before}`,
      );
      expect(pauses).toHaveLength(CYCLES);
      expect(resumes).toHaveLength(CYCLES);
      expect(added).toBe(CYCLES);
      expect(released).toBe(CYCLES);
      expect(drift).toBe(0);
      expect(messages).toEqual(transitionIds);
      expect(storedAtTrip).toEqual(Array(CYCLES).fill(THRESHOLD));
      expect(audit.length).toBe(before);
      expect(jobs.failed).toBe(0);
      expect(jobs.completed).toBe(jobs.in);
      expect(jobs.calledTwice).toEqual([]);
      expect(jobs.neverCalled).toEqual([]);
      expect(jobs.providerCalls).toBe(jobs.in);
      // Only calls whose hold check passed just before a hold landed may start after it.
      expect(Math.max(0, ...whileHeld)).toBeLessThanOrEqual(CONCURRENCY);

      await eventsIdle(o.events, 30_000);
      checkLoggingApp(`[${WORKERS} workers racing] logging app`, logging, idle, await o.stored(APP_RULE));
    } finally {
      app.kill();
      control.kill();
      await d.close();
      await o.close();
    }
  });
});
