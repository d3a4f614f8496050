import { describe, expect, it } from 'vitest';
import { decide, type DecideInput } from '../src/domain/decide.js';
import type { Hold, ManualHold, RuleHold } from '../src/domain/hold.js';
import type { Rule } from '../src/domain/types.js';
import { decideInput } from './support/decide.js';

const MIN = 60_000;
const twilio: Rule = { name: 'twilio', thresholdCount: 10, windowMinutes: 5, logPatterns: ['x'], queues: 'all', minLevel: 40 };
const exotel: Rule = { name: 'exotel', thresholdCount: 3, windowMinutes: 2, logPatterns: ['y'], queues: ['calls'], minLevel: 40 };
const T0 = 1_800_000_000_000;

const ruleHold = (rule: string, since = T0): RuleHold => ({
  id: `rule:${rule}`,
  kind: 'rule',
  scope: 'all',
  by: 'callguard',
  reason: 'r',
  since,
  rule,
});
const manual = (extra: Partial<ManualHold> = {}): ManualHold => ({
  id: 'manual:1',
  kind: 'manual',
  scope: 'all',
  by: 'alice',
  reason: 'maintenance',
  since: T0,
  ...extra,
});
const alert: Hold = {
  id: 'alert:alertmanager:abc',
  kind: 'alert',
  scope: 'all',
  by: 'alert:alertmanager',
  reason: 'HighErrorRate',
  since: T0,
};

const input = (over: Partial<DecideInput>): DecideInput => decideInput([twilio], T0, over);

describe('decide: tripping', () => {
  it.each([
    { count: 0, trips: false },
    { count: 9, trips: false },
    { count: 10, trips: true },
    { count: 11, trips: true },
  ])('when twilio has $count errors in its window, then it trips: $trips', ({ count, trips }) => {
    const d = decide(input({ counts: { twilio: count } }));
    expect(d.add.map((h) => h.id)).toEqual(trips ? ['rule:twilio'] : []);
  });

  it('a count rule with providers holds only those providers: its hold names them, so no queue is paused (issue 24)', () => {
    const countOnTwilio: Rule = { ...twilio, providers: ['twilio'] };
    const d = decide(input({ rules: [countOnTwilio], counts: { twilio: 10 } }));
    expect(d.add).toHaveLength(1);
    expect(d.add[0]).toMatchObject({ id: 'rule:twilio', providers: ['twilio'], count: 10, threshold: 10 });
  });

  it('a tripping rule hold carries scope, count and threshold for the audit and Slack', () => {
    const d = decide(input({ rules: [exotel], counts: { exotel: 4 } }));
    expect(d.add[0]).toMatchObject({
      id: 'rule:exotel',
      kind: 'rule',
      scope: ['calls'],
      by: 'callguard',
      rule: 'exotel',
      count: 4,
      threshold: 3,
      windowMinutes: 2,
    });
  });

  it('when the rule is already held, then no second hold is added', () => {
    expect(decide(input({ counts: { twilio: 50 }, holds: [ruleHold('twilio')] })).add).toEqual([]);
  });

  it('when auto-pause is off, then a tripping rule adds no hold but is still evaluated', () => {
    const d = decide(input({ counts: { twilio: 50 }, autoPause: 'off', clearSince: { twilio: T0 - MIN } }));
    expect(d.add).toEqual([]);
    expect(d.stopClear).toEqual(['twilio']);
  });

  it('when a held rule trips again, then its clear-since is forgotten', () => {
    const d = decide(input({ counts: { twilio: 12 }, holds: [ruleHold('twilio')], clearSince: { twilio: T0 - 3 * MIN } }));
    expect(d).toMatchObject({ add: [], release: [], stopClear: ['twilio'] });
  });

  it('only rules past their threshold trip, each on its own', () => {
    const d = decide(input({ rules: [twilio, exotel], counts: { twilio: 9, exotel: 3 } }));
    expect(d.add.map((h) => h.id)).toEqual(['rule:exotel']);
  });
});

describe('decide: resuming after a continuous clear', () => {
  it.each([
    { name: 'first clear tick starts the clock', clearSince: undefined, now: T0, release: false, start: true },
    { name: '4 min clear is not enough', clearSince: T0, now: T0 + 4 * MIN, release: false, start: false },
    { name: '4m59s clear is not enough', clearSince: T0, now: T0 + 5 * MIN - 1, release: false, start: false },
    { name: 'exactly 5 min clear resumes', clearSince: T0, now: T0 + 5 * MIN, release: true, start: false },
    { name: 'long clear resumes', clearSince: T0, now: T0 + 60 * MIN, release: true, start: false },
  ])('$name', ({ clearSince, now, release, start }) => {
    const d = decide(
      input({
        counts: { twilio: 2 },
        holds: [ruleHold('twilio', T0 - 30 * MIN)],
        clearSince: clearSince === undefined ? {} : { twilio: clearSince },
        now,
      }),
    );
    expect(d.release.map((r) => r.id)).toEqual(release ? ['rule:twilio'] : []);
    expect(d.startClear).toEqual(start ? ['twilio'] : []);
    if (release) expect(d.release[0]).toMatchObject({ by: 'callguard', ifClear: 'twilio' });
  });

  it('late clearing: paused long ago but clear only 1 min, then it stays paused (the original measured pause age)', () => {
    const pausedAt = T0 - 20 * MIN;
    const d = decide(input({ counts: { twilio: 0 }, holds: [ruleHold('twilio', pausedAt)], clearSince: { twilio: T0 - MIN } }));
    expect(d.release).toEqual([]);
  });

  it('with auto-resume 0 the first clear tick releases at once', () => {
    const d = decide(input({ counts: {}, holds: [ruleHold('twilio')], autoResumeMinutes: 0 }));
    expect(d.startClear).toEqual(['twilio']);
    expect(d.release.map((r) => r.id)).toEqual(['rule:twilio']);
  });

  it('a clear rule without a hold forgets a stale clear-since', () => {
    expect(decide(input({ counts: {}, clearSince: { twilio: T0 } })).stopClear).toEqual(['twilio']);
  });

  it('auto-pause off still releases rule holds that cleared (switching it off never traps queues)', () => {
    const d = decide(input({ autoPause: 'off', holds: [ruleHold('twilio')], clearSince: { twilio: T0 - 5 * MIN } }));
    expect(d.release.map((r) => r.id)).toEqual(['rule:twilio']);
  });
});

describe('decide: manual and alert holds', () => {
  it.each([
    { name: 'manual hold without until, hours later', hold: manual(), now: T0 + 600 * MIN, released: false },
    { name: 'manual hold before its until', hold: manual({ until: T0 + 10 * MIN }), now: T0 + 9 * MIN, released: false },
    { name: 'manual hold at its until', hold: manual({ until: T0 + 10 * MIN }), now: T0 + 10 * MIN, released: true },
    { name: 'alert hold is released only by its resolved notice', hold: alert, now: T0 + 600 * MIN, released: false },
  ])('$name → released: $released', ({ hold, now, released }) => {
    const d = decide(input({ counts: {}, holds: [hold], now }));
    expect(d.release.map((r) => r.id)).toEqual(released ? [hold.id] : []);
  });

  it('a fast check (not full) never expires manual holds', () => {
    const d = decide(input({ holds: [manual({ until: T0 - 1 })], full: false }));
    expect(d.release).toEqual([]);
  });

  it('a manual hold on the same queues does not stop a rule from tripping or resuming', () => {
    const trip = decide(input({ counts: { twilio: 10 }, holds: [manual()] }));
    expect(trip.add.map((h) => h.id)).toEqual(['rule:twilio']);
    const resume = decide(input({ holds: [manual(), ruleHold('twilio')], clearSince: { twilio: T0 - 5 * MIN } }));
    expect(resume.release.map((r) => r.id)).toEqual(['rule:twilio']);
  });

  it('a hold of a rule no longer configured is released on a full tick', () => {
    const d = decide(input({ holds: [ruleHold('plivo')] }));
    expect(d.release).toEqual([expect.objectContaining({ id: 'rule:plivo', reason: expect.stringContaining('no longer configured') })]);
  });
});

describe('decide: shadow mode', () => {
  const shadowRule: Rule = { ...twilio, mode: 'shadow' };

  it.each([
    { name: 'global shadow', rules: [twilio], autoPause: 'shadow' as const },
    { name: 'rule in shadow mode', rules: [shadowRule], autoPause: 'on' as const },
  ])('$name: a trip adds a shadow hold, which pauses nothing', ({ rules, autoPause }) => {
    const d = decide(input({ rules, autoPause, counts: { twilio: 10 } }));
    expect(d.add).toEqual([expect.objectContaining({ id: 'rule:twilio', effect: 'shadow' })]);
  });

  it('a shadow hold clears like a real one (would have resumed)', () => {
    const d = decide(
      input({ rules: [shadowRule], holds: [{ ...ruleHold('twilio'), effect: 'shadow' }], clearSince: { twilio: T0 - 5 * MIN } }),
    );
    expect(d.release.map((r) => r.id)).toEqual(['rule:twilio']);
    expect(d.add).toEqual([]);
  });

  it('leaving shadow mode while tripped swaps the shadow hold for a real one', () => {
    const d = decide(input({ counts: { twilio: 10 }, holds: [{ ...ruleHold('twilio'), effect: 'shadow' }] }));
    expect(d.release.map((r) => r.id)).toEqual(['rule:twilio']);
    expect(d.add).toEqual([expect.objectContaining({ id: 'rule:twilio' })]);
    expect(d.add[0]).not.toHaveProperty('effect');
  });

  it('switching auto-pause off keeps a tripped rule held until it clears', () => {
    const d = decide(input({ autoPause: 'off', counts: { twilio: 10 }, holds: [ruleHold('twilio')] }));
    expect(d).toMatchObject({ add: [], release: [] });
  });
});

describe('decide: half-open probe', () => {
  const probing: Rule = { ...twilio, probe: { minutes: 3, maxPerMinute: 5 } };
  const probeHold = (until: number): RuleHold => ({ ...ruleHold('twilio'), effect: 'probe', maxPerMinute: 5, until });

  it('when a probing rule is due to resume, the pause hold becomes a probe hold with a rate limit and an end', () => {
    const d = decide(input({ rules: [probing], holds: [ruleHold('twilio')], clearSince: { twilio: T0 - 5 * MIN } }));
    expect(d.release).toEqual([expect.objectContaining({ id: 'rule:twilio', ifClear: 'twilio' })]);
    expect(d.add).toEqual([expect.objectContaining({ id: 'rule:twilio', effect: 'probe', maxPerMinute: 5, until: T0 + 3 * MIN })]);
  });

  it.each([
    { name: 'during the probe, still clear', count: 2, now: T0 + 2 * MIN, release: false, add: false },
    { name: 'probe time is up, clear', count: 0, now: T0 + 3 * MIN, release: true, add: false },
    { name: 'trips again during the probe', count: 10, now: T0 + MIN, release: true, add: true },
  ])('$name', ({ count, now, release, add }) => {
    const d = decide(input({ rules: [probing], counts: { twilio: count }, holds: [probeHold(T0 + 3 * MIN)], now }));
    expect(d.release.map((r) => r.id)).toEqual(release ? ['rule:twilio'] : []);
    expect(d.add.map((h) => [h.id, h.kind === 'rule' ? h.effect : undefined])).toEqual(add ? [['rule:twilio', undefined]] : []);
    if (add) expect(d.add[0]!.reason).toContain('tripped again during the probe');
  });

  it('a shadow rule never probes', () => {
    const d = decide(
      input({
        rules: [{ ...probing, mode: 'shadow' }],
        holds: [{ ...ruleHold('twilio'), effect: 'shadow' }],
        clearSince: { twilio: T0 - 5 * MIN },
      }),
    );
    expect(d.add).toEqual([]);
  });
});
