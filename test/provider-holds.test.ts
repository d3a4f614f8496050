import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { parseTarget, type NewHold, type RuleHold } from '../src/domain/hold.js';
import { errorReportSchema } from '../src/jobs/contract.js';
import { HoldLedger } from '../src/store/holds.js';
import { chooseCandidate as guard, GuardBatcher, heldRoutes, noteFailed, readFailovers, routeOf } from '../src/store/guard.js';
import { GUARD_BATCH_MAX, GuardVerdict } from '../src/store/scripts.js';
import { ParkedJobs } from '../src/store/parked.js';
import { withScripts, type CallguardRedis } from '../src/store/redis.js';
import { finished } from './support/fences.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';

const RULES = {
  voice: { failure_rate: 0.5, min_calls: 1000, providers: ['twilio', 'plivo'], window_minutes: 5, log_patterns: ['voice provider down'] },
};

let cg: Callguard | undefined;
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await stopTestCallguard(cg);
  cg = undefined;
});

async function start(env: Record<string, string> = {}, worker = false): Promise<Callguard> {
  cg = await startTestCallguard(RULES, { CALLGUARD_QUEUES: 'calls,sms', ...env }, { worker });
  return cg;
}

/** The same rules with plivo's capacity at 2 calls a second (the rules file's second shape). */
async function startWithPlivoCapacity(): Promise<Callguard> {
  cg = await startTestCallguard(
    { rules: RULES, providers: { plivo: { max_per_second: 2 } } },
    { CALLGUARD_QUEUES: 'calls,sms' },
    { worker: false },
  );
  return cg;
}

const manual = (id: string, scope: string[] | 'all', providers?: string[]): NewHold => ({
  id,
  kind: 'manual',
  scope,
  ...(providers ? { providers } : {}),
  by: 'ops',
  reason: 'test',
});
/** Rule `voice`'s hold on twilio's jobs in `calls`: a pause, or what `extra` makes it. */
const voiceHold = (extra: Partial<RuleHold> = {}): NewHold => ({
  id: 'rule:voice',
  kind: 'rule',
  rule: 'voice',
  scope: ['calls'],
  providers: ['twilio'],
  by: 'callguard',
  reason: 'tripped',
  ...extra,
});
const released = (id: string) => ({ release: [{ id, by: 'ops', reason: 'done' }] });
const hash = (c: Callguard, key: string) => c.redis.hgetall(key);

describe('hold-change script with providers', () => {
  it('counts provider holds per queue:provider, apart from whole queues, and reports the targets it paused and resumed', async () => {
    const c = await start();
    const first = await c.ledger.change({ add: [manual('manual:a', ['calls'], ['twilio'])] });
    expect(first.changes.map((ch) => [ch.event, ch.paused, ch.resumed])).toEqual([['hold-added', ['calls:twilio'], []]]);
    expect(await c.ledger.coveredProviders()).toEqual(new Set(['calls:twilio']));
    expect(await c.ledger.coveredQueues()).toEqual(new Set());

    const second = await c.ledger.change({ add: [manual('manual:b', 'all', ['twilio', 'plivo'])] });
    expect(second.changes[0]!.paused.sort()).toEqual(['calls:plivo', 'sms:plivo', 'sms:twilio']);
    // calls:twilio is held twice now: releasing either hold alone leaves it held (below).
    expect(await c.ledger.coveredProviders()).toEqual(new Set(['calls:twilio', 'calls:plivo', 'sms:twilio', 'sms:plivo']));

    // A whole-queue hold counts in `covered` only, and leaves the provider counts alone.
    const whole = await c.ledger.change({ add: [manual('manual:q', ['sms'])] });
    expect(whole.changes[0]!.paused).toEqual(['sms']);
    expect(await c.ledger.coveredQueues()).toEqual(new Set(['sms']));
    expect(await c.ledger.coveredProviders()).toEqual(new Set(['calls:twilio', 'calls:plivo', 'sms:twilio', 'sms:plivo']));

    expect((await c.ledger.change(released('manual:b'))).changes[0]!.resumed.sort()).toEqual(['calls:plivo', 'sms:plivo', 'sms:twilio']);
    expect(await c.ledger.coveredProviders()).toEqual(new Set(['calls:twilio']));
    expect((await c.ledger.change(released('manual:a'))).changes[0]!.resumed).toEqual(['calls:twilio']);
    expect(await c.ledger.coveredProviders()).toEqual(new Set());
    expect(await c.ledger.coveredQueues()).toEqual(new Set(['sms']));
  });

  it('records a throttle on providers under its own events, covering nothing', async () => {
    const c = await start();
    const throttle = voiceHold({ reason: 'throttled', effect: 'throttle', maxPerMinute: 3 });
    const added = await c.ledger.change({ add: [throttle] });
    expect(added.changes.map((ch) => [ch.event, ch.paused])).toEqual([['throttle-started', []]]);
    expect(await c.ledger.coveredProviders()).toEqual(new Set());
    const minute = c.config.minuteMs;
    // The limit is written in the same step as the hold: the provider is never out without it.
    expect(await hash(c, c.keys.providerLimits)).toEqual({ 'calls:twilio': `3/${minute}` });
    // A tighter probe on the same provider wins while both stand; the looser one stays when it goes.
    await c.ledger.change({ add: [voiceHold({ id: 'rule:voice2', rule: 'voice2', effect: 'probe', maxPerMinute: 2 })] });
    expect(await hash(c, c.keys.providerLimits)).toEqual({ 'calls:twilio': `2/${minute}` });
    await c.ledger.change(released('rule:voice2'));
    expect(await hash(c, c.keys.providerLimits)).toEqual({ 'calls:twilio': `3/${minute}` });
    const ended = await c.ledger.change(released('rule:voice'));
    expect(ended.changes.map((ch) => [ch.event, ch.resumed])).toEqual([['throttle-ended', []]]);
    expect(await hash(c, c.keys.providerLimits)).toEqual({});
  });

  it('swaps a provider pause for a probe in one step: the release and the probe limit land together', async () => {
    const c = await start();
    await c.ledger.change({ add: [voiceHold()] });
    const { changes } = await c.ledger.change({
      release: [{ id: 'rule:voice', by: 'callguard', reason: 'clear' }],
      add: [voiceHold({ reason: 'probing', effect: 'probe', maxPerMinute: 4 })],
    });
    expect(changes.map((ch) => [ch.event, ch.resumed])).toEqual([
      ['hold-released', ['calls:twilio']],
      ['probe-started', []],
    ]);
    expect(await c.ledger.coveredProviders()).toEqual(new Set());
    expect(await hash(c, c.keys.providerLimits)).toEqual({ 'calls:twilio': `4/${c.config.minuteMs}` });
  });

  it('when the configured queues change, recounts provider coverage from the holds (dropping what no hold covers)', async () => {
    const c = await start();
    await c.ledger.change({ add: [manual('manual:all', 'all', ['twilio']), manual('manual:q', ['calls'])] });
    expect(await hash(c, c.keys.coveredProviders)).toEqual({ 'calls:twilio': '1', 'sms:twilio': '1' });
    // A count no hold stands behind: the recount must not carry it over.
    await c.redis.hset(c.keys.coveredProviders, 'sms:exotel', '3');

    const wider = new HoldLedger(c.redis, c.keys, ['calls', 'sms', 'email']);
    const { changes } = await wider.change({ add: [manual('manual:email', ['email'], ['twilio'])] });
    // Counted already by the recount, so this hold paused nothing new.
    expect(changes[0]!.paused).toEqual([]);
    expect(await hash(c, c.keys.coveredProviders)).toEqual({ 'calls:twilio': '1', 'sms:twilio': '1', 'email:twilio': '2' });
    expect(await hash(c, c.keys.covered)).toEqual({ calls: '1' });

    const gone = await wider.change(released('manual:all'));
    expect(gone.changes[0]!.resumed.sort()).toEqual(['calls:twilio', 'sms:twilio']);
    expect(await hash(c, c.keys.coveredProviders)).toEqual({ 'email:twilio': '1' });
  });
});

describe('guard script (guard-n.lua)', () => {
  /** The guard for one job of `queue` whose candidate is the provider in `target` (none for ''). */
  const check = async (c: Callguard, queue: string, target: string, client: CallguardRedis = c.redis) => {
    const a = await guard(client, c.keys, { queue, candidates: target ? [parseTarget(target).provider!] : [], member: randomUUID() });
    return a.verdict === GuardVerdict.NoRoom ? [a.verdict, a.waitMs, a.periodMs] : [a.verdict, 0];
  };

  it('answers 0 run, 1 queue held, 2 provider held, 3 no room (with the wait)', async () => {
    const c = await start();
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([0, 0]);
    expect(await check(c, 'calls', '')).toEqual([0, 0]);

    await c.ledger.change({ add: [manual('manual:p', ['calls'], ['twilio'])] });
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([2, 0]);
    expect(await check(c, 'calls', 'calls:plivo')).toEqual([0, 0]);
    expect(await check(c, 'sms', 'sms:twilio')).toEqual([0, 0]);
    expect(await check(c, 'calls', '')).toEqual([0, 0]);

    await c.ledger.change({ add: [manual('manual:q', ['calls'])] });
    // The whole queue held comes first, whatever the provider.
    expect(await check(c, 'calls', 'calls:plivo')).toEqual([1, 0]);
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([1, 0]);
    expect(await check(c, 'calls', '')).toEqual([1, 0]);
    await c.ledger.change({
      release: [
        { id: 'manual:q', by: 'ops', reason: 'done' },
        { id: 'manual:p', by: 'ops', reason: 'done' },
      ],
    });

    const minuteMs = 60_000;
    await setLimits(c, new Map([['calls:twilio', 2]]), minuteMs);
    expect(await c.redis.hgetall(c.keys.providerLimits)).toEqual({ 'calls:twilio': `2/${minuteMs}` });
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([0, 0]);
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([0, 0]);
    const [verdict, waitMs, limitMinuteMs] = await check(c, 'calls', 'calls:twilio');
    expect(verdict).toBe(3);
    expect(limitMinuteMs).toBe(minuteMs);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(minuteMs);
    // Another provider, and jobs without a provider, are not limited.
    expect(await check(c, 'calls', 'calls:plivo')).toEqual([0, 0]);
    expect(await check(c, 'calls', '')).toEqual([0, 0]);
    // Replacing the limits drops the ones no longer given.
    await setLimits(c, new Map(), minuteMs);
    expect(await check(c, 'calls', 'calls:twilio')).toEqual([0, 0]);
  });

  it('lets exactly N of many concurrent checks through in a minute', async () => {
    const c = await start();
    const clients = await connections(c, 4);
    await setLimits(c, new Map([['calls:twilio', 5]]), 60_000);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => check(c, 'calls', 'calls:twilio', clients[i % clients.length])));
    expect(answers.filter(([v]) => v === 0)).toHaveLength(5);
    expect(answers.filter(([v]) => v === 3)).toHaveLength(55);
  });

  it('never lets more than N through in any sliding minute, and lets N through again as the minute slides', async () => {
    const c = await start();
    const clients = await connections(c, 4);
    const N = 3;
    const minuteMs = 300;
    const target = 'calls:twilio';
    await setLimits(c, new Map([[target, N]]), minuteMs);
    const granted: number[] = [];
    const wanted = 5 * N;
    const deadline = Date.now() + 30_000;
    // Eight checkers: half wait as long as the script says before asking again (as guarded
    // workers do), half keep asking every few ms, so the log is pressed at every instant.
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const client = clients[i % clients.length]!;
        while (granted.length < wanted && Date.now() < deadline) {
          const [verdict, waitMs, at] = await checkAndRead(c, client, target);
          if (verdict === 0) granted.push(at!);
          else expect(verdict).toBe(3);
          await delay(verdict === 3 && i % 2 ? waitMs : 2);
        }
      }),
    );
    expect(granted.length, 'granted calls before the deadline').toBeGreaterThanOrEqual(wanted);
    granted.sort((a, b) => a - b);
    // Any N+1 consecutive grants span at least a minute: no (t - minute, t] holds more than N.
    for (let i = N; i < granted.length; i++) expect(granted[i]! - granted[i - N]!).toBeGreaterThanOrEqual(minuteMs);
  });
});

describe('guard script with candidates', () => {
  const choose = (c: Callguard, candidates: string[], extra: { jobId?: string; register?: boolean } = {}) =>
    guard(c.redis, c.keys, { queue: 'calls', candidates, member: randomUUID(), ...extra });

  it('picks the first candidate not held, counts the failover, and notes the route once asked', async () => {
    const c = await start();
    expect(await choose(c, ['twilio', 'plivo', 'exotel'], { register: true })).toMatchObject({ verdict: 0, provider: 'twilio', held: [] });
    expect(await routeOf(c.redis, c.keys, 'calls:twilio')).toEqual(['plivo', 'exotel']);
    expect(await readFailovers(c.redis, c.keys)).toEqual([]);

    await c.ledger.change({ add: [manual('manual:t', ['calls'], ['twilio'])] });
    expect(await choose(c, ['twilio', 'plivo', 'exotel'])).toMatchObject({ verdict: 0, provider: 'plivo', held: ['twilio'] });
    await c.ledger.change({ add: [manual('manual:p', ['calls'], ['plivo'])] });
    expect(await choose(c, ['twilio', 'plivo', 'exotel'])).toMatchObject({ verdict: 0, provider: 'exotel', held: ['twilio', 'plivo'] });
    // A held provider later in the list is not the failover's origin.
    expect(await choose(c, ['exotel', 'plivo'])).toMatchObject({ verdict: 0, provider: 'exotel' });
    expect(await routeOf(c.redis, c.keys, 'calls:twilio')).toEqual(['plivo', 'exotel']);
    expect(await readFailovers(c.redis, c.keys)).toEqual([
      { queue: 'calls', from: 'twilio', to: 'plivo', jobs: 1 },
      { queue: 'calls', from: 'twilio', to: 'exotel', jobs: 1 },
    ]);
    expect((await heldRoutes(c.redis, c.keys)).find((r) => r.provider === 'twilio')).toMatchObject({ queue: 'calls', failedOver: 2 });

    await c.ledger.change({ add: [manual('manual:e', ['calls'], ['exotel'])] });
    expect(await choose(c, ['twilio', 'plivo', 'exotel'])).toMatchObject({ verdict: 2, held: ['twilio', 'plivo', 'exotel'] });
    // Another queue's holds are not this queue's.
    expect(await guard(c.redis, c.keys, { queue: 'sms', candidates: ['twilio'], member: randomUUID() })).toMatchObject({
      verdict: 0,
      provider: 'twilio',
    });
  });

  it('counts the jobs failed over while a provider was held from its commit on, and gives the count to its release (audited, whenever Slack hears of it)', async () => {
    const c = await start();
    // A count left from before the hold (say an earlier hold's, never released cleanly) does not count.
    await c.redis.hset(c.keys.failovers, 'held|calls:twilio', '7');
    await c.ledger.change({ add: [manual('manual:t', ['calls'], ['twilio'])] });
    expect(await c.redis.hget(c.keys.failovers, 'held|calls:twilio')).toBeNull();
    await choose(c, ['twilio', 'plivo'], { register: true });
    await choose(c, ['twilio', 'plivo']);
    expect(await heldRoutes(c.redis, c.keys)).toEqual([{ queue: 'calls', provider: 'twilio', to: ['plivo'], failedOver: 2 }]);
    // A second hold on the same target changes nothing; the release of the last one takes the count.
    await c.ledger.change({ add: [manual('manual:t2', ['calls'], ['twilio'])] });
    const first = await c.ledger.change({ release: [{ id: 'manual:t', by: 'ops', reason: 'r' }] });
    expect(first.changes[0]!.failedOver).toBeUndefined();
    await choose(c, ['twilio', 'plivo']);
    const { changes } = await c.ledger.change({ release: [{ id: 'manual:t2', by: 'ops', reason: 'r' }] });
    expect(changes[0]).toMatchObject({ resumed: ['calls:twilio'], failedOver: 3 });
    expect((await c.ledger.audit(1))[0]).toMatchObject({ event: 'hold-released', hold: 'manual:t2', failedOver: 3 });
    expect(await c.redis.hget(c.keys.failovers, 'held|calls:twilio')).toBeNull();
    expect(await heldRoutes(c.redis, c.keys)).toEqual([]);
    // Jobs that ran on plivo after the release were not failed over while held.
    await choose(c, ['twilio', 'plivo']);
    expect(await c.redis.hget(c.keys.failovers, 'held|calls:twilio')).toBeNull();
  });

  it('counts a job failed over while its first candidate is held also when the job failed on that one before (it is tried last)', async () => {
    const c = await start();
    await c.ledger.change({ add: [manual('manual:t', ['calls'], ['twilio'])] });
    await noteFailed(c.redis, c.keys, 'calls', 'job-1', 'twilio');
    expect(await choose(c, ['twilio', 'plivo'], { jobId: 'job-1' })).toMatchObject({ verdict: 0, provider: 'plivo' });
    expect(await c.redis.hget(c.keys.failovers, 'held|calls:twilio')).toBe('1');
    expect(await readFailovers(c.redis, c.keys)).toEqual([{ queue: 'calls', from: 'twilio', to: 'plivo', jobs: 1 }]);
  });

  it('spills to the next candidate when one is at its capacity (per second, across queues), and never takes a slot it does not use', async () => {
    const c = await startWithPlivoCapacity();
    expect(await c.redis.hgetall(c.keys.capacities)).toEqual({ plivo: '2/1000' });
    expect(await choose(c, ['plivo', 'twilio'])).toMatchObject({ verdict: 0, provider: 'plivo' });
    expect(await guard(c.redis, c.keys, { queue: 'sms', candidates: ['plivo'], member: randomUUID() })).toMatchObject({
      provider: 'plivo',
    });
    expect(await choose(c, ['plivo', 'twilio'])).toMatchObject({ verdict: 0, provider: 'twilio', held: [] });
    // Alone, a full candidate means waiting until the oldest call leaves the second.
    const full = await choose(c, ['plivo']);
    expect(full).toMatchObject({ verdict: 3, periodMs: 1000 });
    expect(full.waitMs).toBeGreaterThan(0);
    expect(full.waitMs).toBeLessThanOrEqual(1000);
    // Held and full: parked under the held one, released by it.
    await c.ledger.change({ add: [manual('manual:t', ['calls'], ['twilio'])] });
    expect(await choose(c, ['twilio', 'plivo'])).toMatchObject({ verdict: 2, held: ['twilio'] });
    expect(await c.redis.zcard(c.keys.capacityLog('plivo'))).toBe(2);
    // A probe with room but a capacity without: the probe's slot is not taken either.
    await setLimits(c, new Map([['calls:plivo', 5]]), 60_000);
    expect(await choose(c, ['plivo'])).toMatchObject({ verdict: 3 });
    expect(await c.redis.zcard(c.keys.rateLog('calls:plivo'))).toBe(0);
  });

  it('prefers candidates the job has not failed on, keeping their order', async () => {
    const c = await start();
    await noteFailed(c.redis, c.keys, 'calls', 'job-1', 'twilio');
    expect(await choose(c, ['twilio', 'plivo', 'exotel'], { jobId: 'job-1' })).toMatchObject({ provider: 'plivo' });
    await noteFailed(c.redis, c.keys, 'calls', 'job-1', 'plivo');
    expect(await choose(c, ['twilio', 'plivo', 'exotel'], { jobId: 'job-1' })).toMatchObject({ provider: 'exotel' });
    await noteFailed(c.redis, c.keys, 'calls', 'job-1', 'exotel');
    // Failed on all: back to preference order.
    expect(await choose(c, ['twilio', 'plivo', 'exotel'], { jobId: 'job-1' })).toMatchObject({ provider: 'twilio' });
    // Another job is not affected.
    expect(await choose(c, ['twilio', 'plivo'], { jobId: 'job-2' })).toMatchObject({ provider: 'twilio' });
    expect(await c.redis.pttl(c.keys.tried('calls', 'job-1'))).toBeGreaterThan(0);
  });

  it('refuses more than 8 candidates, repeated ones and names that are not provider names, before calling Redis', async () => {
    const c = await start();
    const nine = Array.from({ length: 9 }, (_, i) => `p${i}`);
    await expect(choose(c, nine)).rejects.toThrow('at most 8 candidate providers per job, got 9');
    await expect(choose(c, ['twilio', 'twilio'])).rejects.toThrow('must be distinct');
    await expect(choose(c, ['calls:twilio'])).rejects.toThrow('must match');
    expect(await choose(c, nine.slice(0, 8))).toMatchObject({ provider: 'p0' });
  });
});

describe('guard script, several jobs a call', () => {
  const req = (queue: string, candidates: string[]) => ({ queue, candidates, member: randomUUID() });

  it('answers the jobs a worker asks about in one turn with one call, in order, each as if alone', async () => {
    const c = await startWithPlivoCapacity();
    await c.ledger.change({ add: [manual('manual:t', ['calls'], ['twilio'])] });
    const calls = vi.spyOn(c.redis as unknown as { cgGuard: () => Promise<unknown> }, 'cgGuard');
    const batcher = new GuardBatcher(async () => c.redis, c.keys);
    const answers = await Promise.all([
      batcher.choose(req('calls', ['twilio', 'plivo'])),
      batcher.choose(req('calls', ['twilio', 'plivo'])),
      batcher.choose(req('sms', ['twilio'])),
      batcher.choose(req('calls', ['twilio', 'plivo'])),
      batcher.choose(req('calls', [])),
      batcher.choose(req('sms', ['plivo'])),
    ]);
    expect(calls).toHaveBeenCalledTimes(1);
    expect(answers.map((a) => [a.verdict, a.provider, a.held])).toEqual([
      [GuardVerdict.Run, 'plivo', ['twilio']],
      [GuardVerdict.Run, 'plivo', ['twilio']],
      [GuardVerdict.Run, 'twilio', []],
      // plivo's two slots this second went to the jobs before it
      [GuardVerdict.ProviderHeld, undefined, ['twilio']],
      [GuardVerdict.Run, undefined, []],
      [GuardVerdict.NoRoom, undefined, []],
    ]);
    expect(await readFailovers(c.redis, c.keys)).toEqual([{ queue: 'calls', from: 'twilio', to: 'plivo', jobs: 2 }]);

    // More than a call takes are split over calls; each job is still answered.
    calls.mockClear();
    const many = await Promise.all(Array.from({ length: GUARD_BATCH_MAX + 6 }, () => batcher.choose(req('sms', ['twilio']))));
    expect(calls).toHaveBeenCalledTimes(2);
    expect(many.every((a) => a.verdict === GuardVerdict.Run && a.provider === 'twilio')).toBe(true);
  });

  it('checks every new candidate list, even one whose names joined would spell a list it already knows', async () => {
    const c = await start();
    const batcher = new GuardBatcher(async () => c.redis, c.keys);
    expect((await batcher.choose(req('calls', ['twilio', 'plivo']))).provider).toBe('twilio');
    expect(() => batcher.choose(req('calls', ['twilio\nplivo']))).toThrow(TypeError);
    expect((await batcher.choose(req('calls\ntwilio', ['plivo']))).provider).toBe('plivo');
  });

  it('a malformed call changes nothing, and a failed call fails each of its jobs (each goes back)', async () => {
    const c = await start();
    await setLimits(c, new Map([['calls:twilio', 5]]), 60_000);
    const log = c.keys.rateLog('calls:twilio');
    const fixed = [c.keys.covered, c.keys.coveredProviders, c.keys.providerLimits, c.keys.capacities, c.keys.failovers];
    const raw = (c.redis as unknown as { cgGuard: (...a: Array<string | number>) => Promise<unknown> }).cgGuard.bind(c.redis);
    const twilio = [log, c.keys.capacityLog('twilio')];
    const route = ['calls', '0', '1', 'twilio'];
    // Each call's first job would take a slot in the log: a second route whose candidate count
    // runs past the arguments, a job naming a route that is not there, a job short of its tried set.
    await expect(raw(fixed.length + 2, ...fixed, ...twilio, 2, ...route, 'calls', '0', '5', 'twilio', 1, 'm1')).rejects.toThrow(
      /malformed guard request/,
    );
    await expect(raw(fixed.length + 2, ...fixed, ...twilio, 1, ...route, 1, 'm1', 2, 'm2')).rejects.toThrow(/malformed guard request/);
    const both = [...twilio, c.keys.rateLog('calls:plivo'), c.keys.capacityLog('plivo')];
    await expect(
      raw(fixed.length + 6, ...fixed, ...twilio, ...both, 2, ...route, 'calls', '0', '2', 'twilio', 'plivo', 1, 'm1', 2, 'm2'),
    ).rejects.toThrow(/keys for/);
    await expect(raw(fixed.length + 2, ...fixed, ...twilio, 'x', ...route, 1, 'm1')).rejects.toThrow(/malformed guard request/);
    expect(await c.redis.zcard(log)).toBe(0);
    // The same call well formed does take it.
    await raw(fixed.length + 2, ...fixed, ...twilio, 1, ...route, 1, 'm1');
    expect(await c.redis.zcard(log)).toBe(1);

    const broken = new GuardBatcher(async () => {
      throw new Error('Redis is away');
    }, c.keys);
    const settled = await Promise.allSettled([broken.choose(req('calls', ['twilio'])), broken.choose(req('calls', ['twilio']))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});

/**
 * One guard check and, right behind it on the same connection, the time the log recorded for it
 * if it ran: the entry leaves the log only a minute after it went in, so the read finds it.
 */
async function checkAndRead(c: Callguard, client: CallguardRedis, target: string): Promise<[number, number, number?]> {
  const member = randomUUID();
  const log = c.keys.rateLog(target);
  const [answer, score] = await Promise.all([
    guard(client, c.keys, { queue: 'calls', candidates: [parseTarget(target).provider!], member }),
    client.zscore(log, member),
  ]);
  const ran = answer.verdict === GuardVerdict.Run;
  if (ran && score === null) throw new Error('a call let through is missing from the rate log');
  return ran ? [0, 0, Number(score)] : [answer.verdict, answer.waitMs];
}

async function connections(c: Callguard, n: number): Promise<CallguardRedis[]> {
  const clients = Array.from({ length: n }, () => withScripts(new Redis(c.config.redisUrl)));
  closers.push(() => Promise.all(clients.map((r) => r.quit())));
  return clients;
}

describe('error-report contract: outcomes', () => {
  it.each([
    { name: 'outcomes alone', data: { outcomes: { twilio: { calls: 3, failures: 1, slow: { '500': 2 } } } } },
    { name: 'counts and outcomes', data: { counts: { voice: 2 }, outcomes: { 'plivo.eu-1': { calls: 1, failures: 0 } } } },
    { name: 'every call failed and slow', data: { outcomes: { twilio: { calls: 2, failures: 2, slow: { '1': 2, '999999999': 2 } } } } },
  ])('accepts $name', ({ data }) => {
    expect(errorReportSchema.safeParse(data).success).toBe(true);
  });

  it.each([
    {
      name: 'more failures than calls',
      data: { outcomes: { twilio: { calls: 2, failures: 3 } } },
      message: 'failures and slow calls cannot exceed calls',
    },
    {
      name: 'more slow calls than calls',
      data: { outcomes: { twilio: { calls: 2, failures: 0, slow: { '500': 3 } } } },
      message: 'cannot exceed calls',
    },
    { name: 'empty outcomes', data: { outcomes: {} }, message: 'outcomes is empty' },
    { name: 'neither counts nor outcomes', data: {}, message: 'counts or outcomes is required' },
    { name: 'no calls', data: { outcomes: { twilio: { calls: 0, failures: 0 } } }, message: 'calls' },
    { name: 'a provider name with a colon', data: { outcomes: { 'calls:twilio': { calls: 1, failures: 0 } } }, message: 'provider name' },
    {
      name: 'a slow key that is not a whole number',
      data: { outcomes: { twilio: { calls: 1, failures: 0, slow: { '0.5': 1 } } } },
      message: 'slow_call_ms',
    },
    { name: 'an unknown field', data: { outcomes: { twilio: { calls: 1, failures: 0, retries: 2 } } }, message: 'retries' },
    { name: 'fractional failures', data: { outcomes: { twilio: { calls: 2, failures: 0.5 } } }, message: 'failures' },
  ])('refuses $name', ({ data, message }) => {
    const parsed = errorReportSchema.safeParse(data);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(message);
  });
});

describe('the error-report handler with outcomes', () => {
  it("counts a report's outcomes into each rate rule's counters once, even when the same job id runs again", async () => {
    const lag = {
      slow_call_ms: 300,
      slow_call_rate: 0.9,
      min_calls: 1000,
      providers: ['twilio'],
      window_minutes: 5,
      log_patterns: ['twilio lagging'],
    };
    const c = (cg = await startTestCallguard({ ...RULES, lag }, { CALLGUARD_QUEUES: 'calls' }));
    const data = {
      counts: { voice: 2 },
      outcomes: {
        twilio: { calls: 4, failures: 1, slow: { '300': 2 } },
        plivo: { calls: 3, failures: 3 },
        exotel: { calls: 50, failures: 50 },
      },
    };
    await c.events.add('error-report', data, { jobId: 'outcomes-1' });
    expect(await finished(c.events, 'outcomes-1')).toMatchObject({ counted: { voice: 2 } });
    // voice reads twilio and plivo and no slow calls; lag reads twilio's calls slower than 300 ms.
    const expected = {
      voice: 2,
      'voice#calls': 7,
      'voice#failures': 4,
      'voice#slow': 0,
      lag: 0,
      'lag#calls': 4,
      'lag#failures': 1,
      'lag#slow': 2,
    };
    expect((await c.counters.sums()).counts).toEqual(expected);

    // The job removed and sent again with the same id (a reporter's resend): counted before, so nothing is added.
    await (await c.events.getJob('outcomes-1'))!.remove();
    await c.events.add('error-report', data, { jobId: 'outcomes-1' });
    expect(await finished(c.events, 'outcomes-1')).toMatchObject({ duplicate: true });
    expect((await c.counters.sums()).counts).toEqual(expected);

    // A new report adds up in the window.
    await c.events.add('error-report', { outcomes: { plivo: { calls: 1, failures: 0 } } }, { jobId: 'outcomes-2' });
    await finished(c.events, 'outcomes-2');
    expect((await c.counters.sums()).counts).toEqual({ ...expected, 'voice#calls': 8 });
  });

  it("drops a call whose provider name the contract would refuse, instead of losing the reporter's whole batch", async () => {
    const c = await start({}, true);
    c.reporter.report('voice', 2);
    c.reporter.outcome('Twilio Inc', false, 5);
    c.reporter.outcome('twilio', true, 5);
    await c.reporter.flush();
    const [report] = (await c.events.getJobs(['waiting', 'active', 'completed', 'failed'])).filter((j) => j.name === 'error-report');
    await finished(c.events, report!.id!);
    expect((await c.counters.sums()).counts).toEqual({ voice: 2, 'voice#calls': 1, 'voice#failures': 1, 'voice#slow': 0 });
    expect(c.reporter.stats).toMatchObject({ unsent: 0, dropped: 1, calls: 1 });
  });

  it('trips a rate rule from the outcomes a reporter sends, holding only its providers', async () => {
    const c = await startTestCallguard(
      { voice: { ...RULES.voice, min_calls: 4, slow_call_ms: 300, slow_call_rate: 0.9 } },
      { CALLGUARD_QUEUES: 'calls,sms' },
    );
    cg = c;
    for (let i = 0; i < 4; i++) c.reporter.outcome(i % 2 ? 'twilio' : 'plivo', i < 2, 10, [300]);
    await c.reporter.flush();
    const hold = await waitFor(async () => (await c.ledger.list()).find((h) => h.id === 'rule:voice'), { what: 'rule:voice held' });
    expect(hold).toMatchObject({ providers: ['twilio', 'plivo'], calls: 4, failures: 2, slow: 0 });
    expect(hold.reason).toBe('voice: 2 of 4 calls failed in 5 min (50 %, threshold 50 %)');
    expect(await c.ledger.coveredProviders()).toEqual(new Set(['calls:twilio', 'calls:plivo', 'sms:twilio', 'sms:plivo']));
    expect(await c.ledger.coveredQueues()).toEqual(new Set());
  });
});

describe('a guarded worker under a provider hold', () => {
  it("parks the held provider's jobs while the others run, never pauses the queue, and runs each parked job once after the release", async () => {
    const c = await start({ CALLGUARD_QUEUES: 'calls' }, true);
    const { hold } = await c.control.pause({ by: 'alice', providers: ['twilio'], queues: ['calls'] });
    const runs: string[] = [];
    const outcomes: string[] = [];
    const worker = createGuardedWorker<{ provider: string }>('calls', async (job) => void runs.push(job.id!), {
      connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
      prefix: c.config.queuePrefix,
      callguardPrefix: c.config.prefix,
      concurrency: 4,
      provider: (job: Job) => (job.data as { provider: string }).provider,
      outcomes: { outcome: (provider) => void outcomes.push(provider) },
      rules: c.rules,
    });
    closers.push(() => worker.close());
    const queue = c.dispatch.get('calls')!;
    const jobs = await queue.addBulk(
      Array.from({ length: 20 }, (_, i) => ({ name: 'call', data: { provider: i % 2 ? 'plivo' : 'twilio' }, opts: { jobId: `job-${i}` } })),
    );
    const twilio = jobs.filter((j) => j.data.provider === 'twilio').map((j) => j.id!);
    const plivo = jobs.filter((j) => j.data.provider === 'plivo').map((j) => j.id!);
    const parkedKey = c.keys.parked('calls:twilio');

    await waitFor(
      async () => {
        const states = await Promise.all(twilio.map((id) => queue.getJobState(id)));
        return (await queue.getCompletedCount()) === 10 && states.every((s) => s === 'delayed') && (await c.redis.zcard(parkedKey)) === 10;
      },
      { what: 'the plivo jobs completed and the twilio jobs parked' },
    );
    expect(runs.sort()).toEqual([...plivo].sort());
    expect(outcomes).toEqual(Array(10).fill('plivo'));
    expect((await c.redis.zrange(parkedKey, '0', '-1')).sort()).toEqual([...twilio].sort());
    expect(await c.redis.smembers(c.keys.parkedIndex)).toEqual(['calls:twilio']);
    expect(await queue.isPaused()).toBe(false);

    await c.control.releaseIds([hold.id], 'alice', 'twilio is back');
    // The release itself promoted them (parkMs is 5 minutes) and emptied the parked set.
    expect(await c.redis.exists(parkedKey)).toBe(0);
    expect(await c.redis.smembers(c.keys.parkedIndex)).toEqual([]);
    await waitFor(async () => (await queue.getCompletedCount()) === 20, { what: 'all 20 calls completed' });
    expect(runs).toHaveLength(20);
    expect(new Set(runs)).toEqual(new Set([...twilio, ...plivo]));
    expect(outcomes.filter((p) => p === 'twilio')).toHaveLength(10);
    expect(await queue.getJobCounts('failed', 'delayed', 'waiting', 'active')).toEqual({ failed: 0, delayed: 0, waiting: 0, active: 0 });
    // BullMQ records every pause of the queue in its event stream: there was none.
    const events = await c.redis.xrange(`${c.config.queuePrefix}:calls:events`, '-', '+');
    expect(events.filter(([, fields]) => fields[1] === 'paused')).toEqual([]);
    expect(events.some(([, fields]) => fields[1] === 'delayed')).toBe(true);
  });

  it('runs the parked jobs in the order they were added, once released', async () => {
    const c = await start({ CALLGUARD_QUEUES: 'calls' }, true);
    const { hold } = await c.control.pause({ by: 'alice', providers: ['twilio'], queues: ['calls'] });
    const runs: string[] = [];
    const worker = createGuardedWorker<{ provider: string }>('calls', async (job) => void runs.push(job.id!), {
      connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
      prefix: c.config.queuePrefix,
      callguardPrefix: c.config.prefix,
      concurrency: 1,
      provider: (job: Job) => (job.data as { provider: string }).provider,
      outcomes: { outcome: () => undefined },
      rules: c.rules,
    });
    closers.push(() => worker.close());
    const queue = c.dispatch.get('calls')!;
    // Ids that do not sort the way the jobs were added, each job a millisecond after the one before.
    const added = Array.from({ length: 8 }, (_, i) => `call-${(i * 5) % 8}`);
    const t0 = Date.now();
    await queue.addBulk(added.map((id, i) => ({ name: 'call', data: { provider: 'twilio' }, opts: { jobId: id, timestamp: t0 + i } })));
    await waitFor(async () => (await c.redis.zcard(c.keys.parked('calls:twilio'))) === added.length, { what: 'every job parked' });

    await c.control.releaseIds([hold.id], 'alice', 'twilio is back');
    await waitFor(async () => (await queue.getCompletedCount()) === added.length, { what: 'every parked job run' });
    expect(runs).toEqual(added);
  });

  it('when the provider is released while a job is being parked and the queue is held meanwhile, the job still comes back with the queue', async () => {
    const c = await start({ CALLGUARD_QUEUES: 'calls' }, true);
    const { hold: providerHold } = await c.control.pause({ by: 'alice', providers: ['twilio'], queues: ['calls'] });
    let queueHold = '';
    // The interleaving, forced: the job is noted as parked, then (before the worker moves it to
    // delayed) the release runs and finds it still active, and a hold on the whole queue lands.
    const spy = vi.spyOn(ParkedJobs.prototype, 'park').mockImplementationOnce(async (...args) => {
      await new ParkedJobs(c.redis, c.keys).park(...args);
      await c.control.releaseIds([providerHold.id], 'alice', 'twilio is back');
      queueHold = (await c.control.pause({ by: 'bob', queues: ['calls'] })).hold.id;
    });
    closers.push(async () => spy.mockRestore());
    const runs: string[] = [];
    const worker = createGuardedWorker('calls', async (job) => void runs.push(job.id!), {
      connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
      prefix: c.config.queuePrefix,
      callguardPrefix: c.config.prefix,
      provider: () => 'twilio',
      outcomes: { outcome: () => undefined },
      rules: c.rules,
    });
    closers.push(() => worker.close());
    const queue = c.dispatch.get('calls')!;
    await queue.add('call', {}, { jobId: 'raced' });
    await waitFor(async () => queueHold !== '' && (await queue.getJobState('raced')) !== 'active', { what: 'the raced park over' });
    expect(runs).toEqual([]);

    await c.control.releaseIds([queueHold], 'bob', 'done');
    // Well before parkMs (5 minutes): the job was not left delayed with nobody to promote it.
    await finished(queue, 'raced', 20_000);
    expect(runs).toEqual(['raced']);
  });
});

describe('a guarded worker with candidate providers', () => {
  it('runs each job on its first candidate not held (job.provider), parks jobs whose candidates are all held, and the release of any one brings them back', async () => {
    const c = await start({ CALLGUARD_QUEUES: 'calls' }, true);
    const runs: Array<[string, string | undefined]> = [];
    const outcomes: string[] = [];
    const worker = createGuardedWorker<{ n: number }>('calls', async (job) => void runs.push([job.id!, job.provider]), {
      connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
      prefix: c.config.queuePrefix,
      callguardPrefix: c.config.prefix,
      concurrency: 4,
      providers: () => ['twilio', 'plivo'],
      outcomes: { outcome: (provider) => void outcomes.push(provider) },
      rules: c.rules,
    });
    closers.push(() => worker.close());
    const queue = c.dispatch.get('calls')!;
    const twilio = (await c.control.pause({ by: 'alice', providers: ['twilio'], queues: ['calls'] })).hold;
    await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'call', data: { n: i }, opts: { jobId: `a-${i}` } })));
    await waitFor(async () => (await queue.getCompletedCount()) === 6, { what: 'six jobs failed over to plivo' });
    expect(runs.map(([, p]) => p)).toEqual(Array(6).fill('plivo'));
    expect(outcomes).toEqual(Array(6).fill('plivo'));
    expect(await readFailovers(c.redis, c.keys)).toEqual([{ queue: 'calls', from: 'twilio', to: 'plivo', jobs: 6 }]);

    const plivo = (await c.control.pause({ by: 'alice', providers: ['plivo'], queues: ['calls'] })).hold;
    await queue.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: 'call', data: { n: i }, opts: { jobId: `b-${i}` } })));
    await waitFor(
      async () => (await c.redis.zcard(c.keys.parked('calls:twilio'))) === 4 && (await c.redis.zcard(c.keys.parked('calls:plivo'))) === 4,
      { what: 'four jobs parked under both candidates' },
    );
    expect(runs).toHaveLength(6);
    // Plivo comes back first: the parked jobs run there, each once; twilio's release later finds nothing to run.
    await c.control.releaseIds([plivo.id], 'alice', 'plivo is back');
    await waitFor(async () => (await queue.getCompletedCount()) === 10, { what: 'the parked jobs run on plivo' });
    await c.control.releaseIds([twilio.id], 'alice', 'twilio is back');
    expect(runs.slice(6).map(([, p]) => p)).toEqual(Array(4).fill('plivo'));
    expect(new Set(runs.map(([id]) => id)).size).toBe(10);
    expect(await queue.getJobCounts('failed', 'delayed', 'waiting', 'active')).toEqual({ failed: 0, delayed: 0, waiting: 0, active: 0 });
    await queue.add('call', { n: 99 }, { jobId: 'c-0' });
    await waitFor(async () => (await queue.getCompletedCount()) === 11, { what: 'a new job on twilio again' });
    expect(runs.at(-1)).toEqual(['c-0', 'twilio']);
  });

  it("retries a failed call on the job's other candidate", async () => {
    const c = await start({ CALLGUARD_QUEUES: 'calls' }, true);
    const calls: string[] = [];
    const worker = createGuardedWorker(
      'calls',
      async (job) => {
        calls.push(job.provider!);
        if (job.provider === 'twilio') throw new Error('twilio answered 503');
      },
      {
        connection: { url: c.config.redisUrl, maxRetriesPerRequest: null },
        prefix: c.config.queuePrefix,
        callguardPrefix: c.config.prefix,
        providers: () => ['twilio', 'plivo'],
        outcomes: { outcome: () => undefined },
        rules: c.rules,
      },
    );
    closers.push(() => worker.close());
    const queue = c.dispatch.get('calls')!;
    await queue.add('call', {}, { jobId: 'retry-1', attempts: 3 });
    await finished(queue, 'retry-1');
    expect(calls).toEqual(['twilio', 'plivo']);
    // The note of the failed provider is dropped once the job succeeded.
    expect(await c.redis.exists(c.keys.tried('calls', 'retry-1'))).toBe(0);
  });
});

/** The limits the hold-change script writes for probe and throttle provider holds, set directly. */
async function setLimits(c: Callguard, limits: Map<string, number>, minuteMs: number): Promise<void> {
  const multi = c.redis.multi().del(c.keys.providerLimits);
  if (limits.size) multi.hset(c.keys.providerLimits, Object.fromEntries([...limits].map(([t, n]) => [t, `${n}/${minuteMs}`])));
  await multi.exec();
}
