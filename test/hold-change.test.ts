import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decide, type DecideInput } from '../src/domain/decide.js';
import type { Callguard } from '../src/app/callguard.js';
import { HoldLedger, stepsOf } from '../src/store/holds.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'], queues: ['calls'] } };

/** What the evaluator would decide right now (or `at`), from what Redis holds, with the given count. */
async function decideFor(cg: Callguard, count: number, at?: number) {
  const [holds, clearSince, now] = await Promise.all([cg.ledger.list(), cg.ledger.clearSince(), cg.ledger.now()]);
  const input: DecideInput = {
    rules: cg.rules,
    counts: { twilio: count },
    holds,
    clearSince,
    now: at ?? now,
    full: false,
    minuteMs: cg.config.minuteMs,
    autoResumeMinutes: cg.config.autoResumeMinutes,
    autoPause: 'on',
  };
  return decide(input);
}

/** The hold-change script (change-holds-10.lua) on real Redis: clear-since clocks and the ifClear guard. */
describe('hold-change script', () => {
  let cg: Callguard;
  beforeEach(async () => {
    cg = await startTestCallguard(RULES, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
  });
  afterEach(() => stopTestCallguard(cg));

  const decideNow = (count: number, at?: number) => decideFor(cg, count, at);

  /** Trip, then let the rule start clearing: the clear-since clock is written by the same script call. */
  const tripThenClear = async () => {
    await cg.ledger.change(await decideNow(5));
    const clearing = await decideNow(0);
    expect(clearing.startClear).toEqual(['twilio']);
    await cg.ledger.change(clearing);
    expect(Object.keys(await cg.ledger.clearSince())).toEqual(['twilio']);
  };

  it('when the rule stays clear long enough, then the release with ifClear lands and the clock stops in the same step', async () => {
    await tripThenClear();
    const resume = await decideNow(0, (await cg.ledger.now()) + 10 * cg.config.autoResumeMinutes * cg.config.minuteMs);
    expect(resume.release).toEqual([expect.objectContaining({ id: 'rule:twilio', ifClear: 'twilio' })]);
    const { changes } = await cg.ledger.change(resume);
    expect(changes.map((c) => [c.event, c.hold.id, c.resumed])).toEqual([['hold-released', 'rule:twilio', ['calls']]]);
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.ledger.clearSince()).toEqual({});
  });

  it('when the rule trips again between the decision to release and its landing, then the hold stays', async () => {
    await tripThenClear();
    // Evaluator A decides to release (the rule has been clear long enough)…
    const resume = await decideNow(0, (await cg.ledger.now()) + 10 * cg.config.autoResumeMinutes * cg.config.minuteMs);
    expect(resume.release).toEqual([expect.objectContaining({ ifClear: 'twilio' })]);
    // …while a fast check after counting sees the rule over threshold again and stops its clock.
    const trip = await decideNow(6);
    expect(trip).toMatchObject({ add: [], release: [], stopClear: ['twilio'] });
    expect((await cg.ledger.change(trip)).changes).toEqual([]);

    const auditBefore = await cg.ledger.audit();
    const { changes } = await cg.ledger.change(resume);
    expect(changes).toEqual([]);
    expect((await cg.ledger.list()).map((h) => h.id)).toEqual(['rule:twilio']);
    expect(await cg.ledger.coveredQueues()).toEqual(new Set(['calls']));
    expect(await cg.ledger.audit()).toEqual(auditBefore);
    expect(await cg.ledger.clearSince()).toEqual({});
  });

  it('when startClear names a rule whose clock runs, then its start is kept', async () => {
    await tripThenClear();
    const first = (await cg.ledger.clearSince()).twilio;
    await cg.ledger.change({ startClear: ['twilio'] });
    expect((await cg.ledger.clearSince()).twilio).toBe(first);
  });

  it('when a step committed but its answer was lost (the client resends it), then the resend still makes the queues follow', async () => {
    const hold = { id: 'manual:resent', kind: 'manual' as const, scope: ['calls'], by: 'ops', reason: 'carrier outage' };
    // The first run: committed in Redis, its answer lost, so no queue was paused.
    expect((await cg.ledger.change({ add: [hold] })).changes).toHaveLength(1);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
    // The resend finds the hold in place: no change, and the queues are brought in line anyway.
    const again = await cg.control.pause({ by: 'ops', id: hold.id, queues: ['calls'], reason: hold.reason });
    expect(again.changes).toEqual([]);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(await cg.dispatch.get('sms')!.isPaused()).toBe(false);
    // The same for a release whose first run landed unseen.
    expect((await cg.ledger.change({ release: [{ id: hold.id, by: 'ops', reason: 'carrier back' }] })).changes).toHaveLength(1);
    expect((await cg.control.releaseIds([hold.id], 'ops', 'carrier back')).changes).toEqual([]);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
  });

  it('when the configured queues change, then coverage is recounted once, and then kept by ±1 per hold', async () => {
    await cg.ledger.change({ add: [{ id: 'manual:a', kind: 'manual', scope: 'all', by: 'ops', reason: 'r' }] });
    expect(await cg.redis.hgetall(cg.keys.covered)).toEqual({ calls: '1', sms: '1' });
    // Another instance, configured with one more queue, sees the same holds.
    const wider = new HoldLedger(cg.redis, cg.keys, ['calls', 'sms', 'email']);
    const { changes } = await wider.change({ add: [{ id: 'manual:b', kind: 'manual', scope: ['email'], by: 'ops', reason: 'r' }] });
    expect(changes.map((c) => c.paused)).toEqual([[]]);
    expect(await cg.redis.hgetall(cg.keys.covered)).toEqual({ calls: '1', sms: '1', email: '2' });
    const released = await wider.change({ release: [{ id: 'manual:a', by: 'ops', reason: 'done' }] });
    expect(released.changes.map((c) => c.resumed)).toEqual([['calls', 'sms']]);
    expect(await cg.redis.hgetall(cg.keys.covered)).toEqual({ email: '1' });
  });

  it('when a request is larger than a step, then it is split in order: releases, then adds; clocks at the ends', () => {
    const hold = (i: number) => ({ id: `manual:${i}`, kind: 'manual' as const, scope: 'all' as const, by: 'ops', reason: 'r' });
    const rel = (i: number) => ({ id: `manual:${i}`, by: 'ops', reason: 'r' });
    const steps = stepsOf({ release: [1, 2, 3].map(rel), add: [4, 5].map(hold), startClear: ['a'], stopClear: ['b'] }, 2);
    expect(steps.map((s) => [s.release!.map((r) => r.id), s.add!.map((h) => h.id), s.startClear, s.stopClear])).toEqual([
      [['manual:1', 'manual:2'], [], ['a'], []],
      [['manual:3'], ['manual:4'], [], []],
      [[], ['manual:5'], [], ['b']],
    ]);
    expect(stepsOf({ release: [rel(1)], startClear: ['a'] }, 2)).toHaveLength(1);
  });
});

describe('hold-change script: a probe ending while a trip replaces it', () => {
  let cg: Callguard;
  const PROBED = { twilio: { ...RULES.twilio, probe: { minutes: 1, max_per_minute: 5 } } };
  beforeEach(async () => {
    cg = await startTestCallguard(PROBED, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
  });
  afterEach(() => stopTestCallguard(cg));

  const decideAt = (count: number, at?: number) => decideFor(cg, count, at);
  const effect = async () => (await cg.ledger.list()).map((h) => [h.id, h.kind === 'rule' ? (h.effect ?? 'pause') : h.kind]);

  it('when the probe-end release lands after a trip put a pause under the same id, then the pause stays', async () => {
    await cg.ledger.change(await decideAt(5));
    await cg.ledger.change(await decideAt(0));
    const later = (await cg.ledger.now()) + 10 * cg.config.autoResumeMinutes * cg.config.minuteMs;
    await cg.ledger.change(await decideAt(0, later));
    expect(await effect()).toEqual([['rule:twilio', 'probe']]);

    // A tick decides the probe is over…
    const probe = (await cg.ledger.list())[0]!;
    const end = await decideAt(0, (probe.kind === 'rule' && probe.until) || Infinity);
    expect(end.release).toEqual([expect.objectContaining({ id: 'rule:twilio', ifEffect: 'probe' })]);
    // …while a report during the probe trips the rule again and puts a pause in its place.
    const trip = await decideAt(6);
    expect(trip.add).toEqual([expect.objectContaining({ id: 'rule:twilio' })]);
    await cg.ledger.change(trip);
    expect(await effect()).toEqual([['rule:twilio', 'pause']]);

    expect((await cg.ledger.change(end)).changes).toEqual([]);
    expect(await effect()).toEqual([['rule:twilio', 'pause']]);
  });
});
