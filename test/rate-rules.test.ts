import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type DecideInput } from '../src/domain/decide.js';
import type { Hold, NewHold } from '../src/domain/hold.js';
import { countersOf, outcomeCounts, slowThresholds, verdict } from '../src/domain/outcomes.js';
import { DEFAULT_MIN_CALLS, parseRules } from '../src/domain/rules.js';
import type { Rule } from '../src/domain/types.js';
import { decideInput } from './support/decide.js';

const QUEUES = ['calls', 'sms'];
const base = { window_minutes: 5, log_patterns: ['twilio api down'] };
const parse = (fields: Record<string, unknown>): Rule =>
  parseRules(JSON.stringify({ tw: { ...base, ...fields } }), 'r.json', QUEUES).rules[0]!;
const refusal = (fields: Record<string, unknown>) => {
  try {
    parse(fields);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('accepted');
};
const RATED = { failure_rate: 0.5, providers: ['twilio'] };

describe('rate rules: validation', () => {
  it.each([
    {
      name: 'neither threshold_count nor a rate',
      fields: {},
      message: 'field threshold_count: required unless failure_rate or slow_call_rate is given',
    },
    {
      name: 'a failure rate without providers',
      fields: { failure_rate: 0.5 },
      message: 'field providers: required with failure_rate or slow_call_rate: rates are read from these providers’ call outcomes',
    },
    {
      name: 'a slow rate without providers',
      fields: { slow_call_ms: 500, slow_call_rate: 0.5 },
      message: 'field providers: required with failure_rate or slow_call_rate',
    },
    {
      name: 'slow_call_ms alone',
      fields: { ...RATED, slow_call_ms: 500 },
      message: 'field slow_call_rate: slow_call_ms and slow_call_rate go together',
    },
    {
      name: 'slow_call_rate alone',
      fields: { slow_call_rate: 0.2, providers: ['twilio'] },
      message: 'field slow_call_ms: slow_call_ms and slow_call_rate go together',
    },
    {
      name: 'min_calls without a rate',
      fields: { threshold_count: 3, min_calls: 5 },
      message: 'field min_calls: only means something with failure_rate or slow_call_rate',
    },
    { name: 'a rate of 0', fields: { ...RATED, failure_rate: 0 }, message: 'field failure_rate: must be above 0' },
    { name: 'a negative rate', fields: { ...RATED, failure_rate: -0.1 }, message: 'field failure_rate: must be above 0' },
    {
      name: 'a rate above 1',
      fields: { ...RATED, failure_rate: 50 },
      message: 'field failure_rate: must be at most 1 (a fraction: 0.5 is 50 %)',
    },
    {
      name: 'a slow rate above 1',
      fields: { ...RATED, slow_call_ms: 500, slow_call_rate: 1.01 },
      message: 'field slow_call_rate: must be at most 1 (a fraction: 0.5 is 50 %)',
    },
    { name: 'min_calls of 0', fields: { ...RATED, min_calls: 0 }, message: 'field min_calls: Too small' },
    { name: 'slow_call_ms of 0', fields: { ...RATED, slow_call_ms: 0, slow_call_rate: 0.5 }, message: 'field slow_call_ms: Too small' },
    {
      name: 'a provider with a space',
      fields: { ...RATED, providers: ['tw ilio'] },
      message: 'field providers.0: must match /^[A-Za-z0-9_.-]{1,64}$/',
    },
    { name: 'a provider with a colon', fields: { ...RATED, providers: ['ok', 'calls:twilio'] }, message: 'field providers.1: must match' },
    { name: 'a provider name too long', fields: { ...RATED, providers: ['p'.repeat(65)] }, message: 'field providers.0: must match' },
    { name: 'no providers', fields: { ...RATED, providers: [] }, message: 'field providers: Too small' },
    { name: 'on_trip without its rate', fields: { ...RATED, on_trip: {} }, message: 'field on_trip.max_per_minute' },
    {
      name: 'on_trip of 0 per minute',
      fields: { ...RATED, on_trip: { max_per_minute: 0 } },
      message: 'field on_trip.max_per_minute: Too small',
    },
    {
      name: 'on_trip per minute fractional',
      fields: { ...RATED, on_trip: { max_per_minute: 1.5 } },
      message: 'field on_trip.max_per_minute',
    },
    {
      name: 'on_trip with an unknown field',
      fields: { ...RATED, on_trip: { max_per_minute: 2, burst: 1 } },
      message: 'field on_trip.burst: unknown field',
    },
  ])('refuses $name', ({ fields, message }) => {
    expect(refusal(fields)).toContain(`r.json: rule "tw": ${message}`);
  });

  it('reads the rate fields, with min_calls defaulting to DEFAULT_MIN_CALLS and providers deduplicated', () => {
    expect(
      parse({ ...RATED, providers: ['twilio', 'plivo', 'twilio'], slow_call_ms: 800, slow_call_rate: 0.3, on_trip: { max_per_minute: 4 } }),
    ).toEqual({
      name: 'tw',
      windowMinutes: 5,
      logPatterns: ['twilio api down'],
      queues: 'all',
      minLevel: 40,
      providers: ['twilio', 'plivo'],
      failureRate: 0.5,
      slowCallMs: 800,
      slowCallRate: 0.3,
      minCalls: DEFAULT_MIN_CALLS,
      onTrip: { maxPerMinute: 4 },
    });
    expect(parse({ ...RATED, threshold_count: 7, min_calls: 3, failure_rate: 1 })).toMatchObject({
      thresholdCount: 7,
      minCalls: 3,
      failureRate: 1,
    });
    expect(parse({ slow_call_ms: 1, slow_call_rate: 1, providers: ['p'.repeat(64)] })).toMatchObject({ slowCallMs: 1, slowCallRate: 1 });
  });

  it('keeps the original format valid and meaning the same: no rate fields, trips at threshold_count only', () => {
    const rule = parse({ threshold_count: 10 });
    expect(rule).toEqual({
      name: 'tw',
      thresholdCount: 10,
      windowMinutes: 5,
      logPatterns: ['twilio api down'],
      queues: 'all',
      minLevel: 40,
    });
    expect(countersOf([rule])).toEqual([{ name: 'tw', windowMinutes: 5 }]);
    expect(verdict(rule, { tw: 9 })).toMatchObject({ tripped: false, summary: '9/10 errors in 5 min' });
    expect(verdict(rule, { tw: 10 })).toMatchObject({ tripped: true, summary: '10 errors in 5 min (threshold 10)' });
    // Outcomes reported for any provider do not touch a rule without a rate.
    expect(outcomeCounts([rule], { twilio: { calls: 10, failures: 10 } })).toEqual([]);
  });

  it('warns that a probe does nothing on a rule that throttles on trip', () => {
    const loaded = parseRules(
      JSON.stringify({ tw: { window_minutes: 5, ...RATED, on_trip: { max_per_minute: 5 }, probe: { minutes: 2, max_per_minute: 3 } } }),
      'r.json',
      QUEUES,
    );
    expect(loaded.warnings).toEqual([
      'r.json: rule "tw": field probe: has no effect with on_trip (a throttled provider is never stopped, so it is not probed)',
    ]);
  });

  it('lets a rate-only rule leave out log_patterns, without the warning about an empty list; a count rule still needs them', () => {
    const loaded = parseRules(JSON.stringify({ tw: { window_minutes: 5, ...RATED } }), 'r.json', QUEUES);
    expect(loaded.rules[0]!.logPatterns).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    expect(() => parseRules(JSON.stringify({ tw: { window_minutes: 5, threshold_count: 3 } }), 'r.json', QUEUES)).toThrow(
      'r.json: rule "tw": field log_patterns: required unless failure_rate or slow_call_rate is given',
    );
  });
});

const rated = (over: Partial<Rule> = {}): Rule => ({
  name: 'tw',
  windowMinutes: 5,
  logPatterns: ['x'],
  queues: ['calls'],
  minLevel: 40,
  providers: ['twilio'],
  failureRate: 0.5,
  minCalls: 10,
  ...over,
});
const counts = (calls: number, failures: number, slow = 0, errors = 0) => ({
  tw: errors,
  'tw#calls': calls,
  'tw#failures': failures,
  'tw#slow': slow,
});

describe('verdict', () => {
  it.each([
    { calls: 9, failures: 9, tripped: false, why: 'one call short of min_calls, every call failed' },
    { calls: 10, failures: 5, tripped: true, why: 'min_calls reached, failures exactly at the rate' },
    { calls: 10, failures: 4, tripped: false, why: 'min_calls reached, one failure below the rate' },
    { calls: 11, failures: 5, tripped: false, why: '5/11 is below 50 %' },
    { calls: 0, failures: 0, tripped: false, why: 'no calls at all' },
  ])('$calls calls, $failures failed: tripped $tripped ($why)', ({ calls, failures, tripped }) => {
    expect(verdict(rated(), counts(calls, failures)).tripped).toBe(tripped);
  });

  it('says what tripped it, and what the numbers are when it did not', () => {
    expect(verdict(rated(), counts(10, 6))).toEqual({
      tripped: true,
      summary: '6 of 10 calls failed in 5 min (60 %, threshold 50 %)',
      count: 0,
      calls: 10,
      failures: 6,
      slow: 0,
    });
    expect(verdict(rated(), counts(8, 1)).summary).toBe('1 failed and 0 slow of 8 calls in 5 min');
  });

  it('writes rates as people do in its summary', () => {
    expect(verdict(rated({ failureRate: 0.29 }), counts(100, 29)).summary).toBe('29 of 100 calls failed in 5 min (29 %, threshold 29 %)');
    expect(verdict(rated({ failureRate: 0.07 }), counts(100, 7)).summary).toBe('7 of 100 calls failed in 5 min (7 %, threshold 7 %)');
  });

  it('trips on slow calls at slow_call_rate, independently of failures', () => {
    const rule = rated({ failureRate: undefined, slowCallMs: 800, slowCallRate: 0.25 });
    expect(verdict(rule, counts(20, 20, 4)).tripped).toBe(false);
    expect(verdict(rule, counts(20, 0, 5))).toMatchObject({
      tripped: true,
      summary: '5 of 20 calls slower than 800 ms in 5 min (25 %, threshold 25 %)',
    });
    const both = verdict(rated({ slowCallMs: 800, slowCallRate: 0.25 }), counts(20, 10, 5));
    expect(both.summary).toBe(
      '10 of 20 calls failed in 5 min (50 %, threshold 50 %); 5 of 20 calls slower than 800 ms in 5 min (25 %, threshold 25 %)',
    );
  });

  it('with threshold_count as well, either trips it', () => {
    const rule = rated({ thresholdCount: 3 });
    expect(verdict(rule, counts(2, 2, 0, 3))).toMatchObject({ tripped: true, summary: '3 errors in 5 min (threshold 3)' });
    expect(verdict(rule, counts(10, 5, 0, 2)).tripped).toBe(true);
    expect(verdict(rule, counts(10, 4, 0, 2))).toMatchObject({
      tripped: false,
      summary: '2/3 errors, 4 failed and 0 slow of 10 calls in 5 min',
    });
  });

  it('while probing, the probe allowance stands in for min_calls when smaller (and only then)', () => {
    const probe = { minutes: 3, maxPerMinute: 4 };
    expect(verdict(rated({ probe }), counts(4, 2), true).tripped).toBe(true);
    expect(verdict(rated({ probe }), counts(3, 3), true).tripped).toBe(false);
    expect(verdict(rated({ probe }), counts(4, 2), false).tripped).toBe(false);
    // No probe settings: probing changes nothing.
    expect(verdict(rated(), counts(4, 2), true).tripped).toBe(false);
    // A probe allowing more than min_calls does not raise it.
    expect(verdict(rated({ probe: { minutes: 3, maxPerMinute: 50 } }), counts(10, 5), true).tripped).toBe(true);
  });

  it('trips on the failure rate exactly when calls ≥ min_calls and failures/calls ≥ the rate (whole-number arithmetic)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (percent, minCalls, a, b) => {
          const calls = Math.max(a, b);
          const failures = Math.min(a, b);
          const v = verdict(rated({ failureRate: percent / 100, minCalls }), counts(calls, failures));
          expect(v.tripped).toBe(calls > 0 && calls >= minCalls && failures * 100 >= percent * calls);
        },
      ),
    );
  });
});

describe('outcomeCounts and the counters a rule reads', () => {
  const both = rated({ name: 'voice', providers: ['twilio', 'plivo'], slowCallMs: 500, slowCallRate: 0.5 });
  const onlyTwilio = rated({ name: 'tw', providers: ['twilio'] });
  const errorsOnly: Rule = { name: 'legacy', thresholdCount: 5, windowMinutes: 2, logPatterns: ['x'], queues: 'all', minLevel: 40 };
  const named = (entries: ReturnType<typeof outcomeCounts>) => entries.map(([c, n]) => [c.name, c.windowMinutes, n]);

  it("adds up a rule's providers, takes the rule's own slow_call_ms, and ignores providers no rule reads", () => {
    const entries = outcomeCounts([both, onlyTwilio, errorsOnly], {
      twilio: { calls: 5, failures: 2, slow: { '500': 3, '900': 1 } },
      plivo: { calls: 4, failures: 4, slow: { '900': 2 } },
      exotel: { calls: 100, failures: 100 },
    });
    expect(named(entries)).toEqual([
      ['voice#calls', 5, 9],
      ['voice#failures', 5, 6],
      ['voice#slow', 5, 3],
      ['tw#calls', 5, 5],
      ['tw#failures', 5, 2],
      ['tw#slow', 5, 0],
    ]);
  });

  it('gives every part, zeros too, for a rule one of whose providers appears; nothing for a rule none of whose do', () => {
    expect(named(outcomeCounts([both, onlyTwilio], { plivo: { calls: 1, failures: 0 } }))).toEqual([
      ['voice#calls', 5, 1],
      ['voice#failures', 5, 0],
      ['voice#slow', 5, 0],
    ]);
    expect(outcomeCounts([both, onlyTwilio], {})).toEqual([]);
    expect(outcomeCounts([both], { exotel: { calls: 3, failures: 1 } })).toEqual([]);
  });

  it('names the counters of rate rules next to the error count, and the slow thresholds per provider', () => {
    expect(countersOf([errorsOnly, both]).map((c) => c.name)).toEqual(['legacy', 'voice', 'voice#calls', 'voice#failures', 'voice#slow']);
    const faster = rated({ name: 'fast', providers: ['plivo'], slowCallMs: 200, slowCallRate: 0.1 });
    const same = rated({ name: 'same', providers: ['plivo'], slowCallMs: 500, slowCallRate: 0.9 });
    expect(slowThresholds([both, faster, same, errorsOnly], 'plivo')).toEqual([200, 500]);
    expect(slowThresholds([both, faster], 'twilio')).toEqual([500]);
    expect(slowThresholds([both], 'exotel')).toEqual([]);
  });
});

const MIN = 60_000;
const T0 = 1_800_000_000_000;

const input = (over: Partial<DecideInput>): DecideInput => decideInput([rated()], T0, over);
/** A hold decide() asked for, as the ledger stores it. */
const placed = (h: NewHold): Hold => ({ ...h, since: T0 });

describe('decide with rate rules', () => {
  it('does not trip below min_calls, trips at min_calls with a hold on its providers and the outcomes that tripped it', () => {
    expect(decide(input({ counts: counts(9, 9) })).add).toEqual([]);
    const d = decide(input({ counts: counts(10, 7, 1) }));
    expect(d.add).toEqual([
      {
        id: 'rule:tw',
        kind: 'rule',
        scope: ['calls'],
        providers: ['twilio'],
        by: 'callguard',
        reason: 'tw: 7 of 10 calls failed in 5 min (70 %, threshold 50 %)',
        rule: 'tw',
        count: 0,
        calls: 10,
        failures: 7,
        slow: 1,
        windowMinutes: 5,
      },
    ]);
  });

  it('clears once below the rate, and releases its provider hold only after autoResume minutes clear', () => {
    const hold = placed(decide(input({ counts: counts(10, 10) })).add[0]!);
    const clearing = decide(input({ holds: [hold], counts: counts(10, 4) }));
    expect(clearing).toEqual({ add: [], release: [], startClear: ['tw'], stopClear: [] });
    const early = decide(input({ holds: [hold], counts: counts(10, 4), clearSince: { tw: T0 }, now: T0 + 5 * MIN - 1 }));
    expect(early).toEqual({ add: [], release: [], startClear: [], stopClear: [] });
    // Too few calls to judge counts as clear as well: a provider nobody calls any more is not held for ever.
    const quiet = decide(input({ holds: [hold], counts: counts(3, 3), clearSince: { tw: T0 }, now: T0 + 5 * MIN }));
    expect(quiet.release).toEqual([
      { id: 'rule:tw', by: 'callguard', reason: 'tw below threshold (3 failed and 0 slow of 3 calls in 5 min) for 5 min', ifClear: 'tw' },
    ]);
    expect(quiet.stopClear).toEqual(['tw']);
    expect(quiet.add).toEqual([]);
  });

  it('after a pause with probe settings, probes on the same providers', () => {
    const rule = rated({ probe: { minutes: 3, maxPerMinute: 4 } });
    const hold = placed(decide(input({ rules: [rule], counts: counts(10, 10) })).add[0]!);
    const d = decide(input({ rules: [rule], holds: [hold], counts: counts(0, 0), clearSince: { tw: T0 }, now: T0 + 5 * MIN }));
    expect(d.release.map((r) => r.id)).toEqual(['rule:tw']);
    expect(d.add).toEqual([
      expect.objectContaining({ id: 'rule:tw', effect: 'probe', providers: ['twilio'], maxPerMinute: 4, until: T0 + 5 * MIN + 3 * MIN }),
    ]);
  });

  it('re-holds during a probe as soon as the probe allowance of calls fails at the rate, below min_calls', () => {
    const rule = rated({ probe: { minutes: 3, maxPerMinute: 4 } });
    const probe = placed({
      id: 'rule:tw',
      kind: 'rule',
      scope: ['calls'],
      providers: ['twilio'],
      by: 'callguard',
      reason: 'probing',
      rule: 'tw',
      effect: 'probe',
      maxPerMinute: 4,
      until: T0 + 3 * MIN,
    });
    expect(decide(input({ rules: [rule], holds: [probe], counts: counts(3, 3) }))).toEqual({
      add: [],
      release: [],
      startClear: [],
      stopClear: [],
    });
    const d = decide(input({ rules: [rule], holds: [probe], counts: counts(4, 2) }));
    expect(d.release).toEqual([{ id: 'rule:tw', by: 'callguard', reason: 'tw tripped again during the probe', ifEffect: 'probe' }]);
    expect(d.add).toEqual([
      expect.objectContaining({
        id: 'rule:tw',
        providers: ['twilio'],
        afterProbe: true,
        calls: 4,
        failures: 2,
        reason: 'tw: 2 of 4 calls failed in 5 min (50 %, threshold 50 %); tripped again during the probe',
      }),
    ]);
    expect(d.add[0]).not.toHaveProperty('effect');
    // Calls that went well through the probe end it.
    const done = decide(input({ rules: [rule], holds: [probe], counts: counts(12, 1), now: T0 + 3 * MIN }));
    expect(done.release).toEqual([
      { id: 'rule:tw', by: 'callguard', reason: 'tw stayed below threshold through the probe', ifEffect: 'probe' },
    ]);
    expect(done.add).toEqual([]);
  });

  it('with on_trip, throttles its providers instead of holding them, and no probe follows the throttle', () => {
    const rule = rated({ onTrip: { maxPerMinute: 6 }, probe: { minutes: 3, maxPerMinute: 4 } });
    const d = decide(input({ rules: [rule], counts: counts(10, 5) }));
    expect(d.add).toEqual([
      expect.objectContaining({
        id: 'rule:tw',
        effect: 'throttle',
        maxPerMinute: 6,
        providers: ['twilio'],
        reason: 'tw: 5 of 10 calls failed in 5 min (50 %, threshold 50 %); throttled to 6 jobs per minute',
      }),
    ]);
    const hold = placed(d.add[0]!);
    expect(decide(input({ rules: [rule], holds: [hold], counts: counts(20, 20) })).add).toEqual([]);
    const over = decide(input({ rules: [rule], holds: [hold], counts: counts(10, 0), clearSince: { tw: T0 }, now: T0 + 5 * MIN }));
    expect(over.release.map((r) => r.id)).toEqual(['rule:tw']);
    expect(over.add).toEqual([]);
  });

  it.each([
    { name: 'the rule is in shadow mode', rule: rated({ mode: 'shadow', onTrip: { maxPerMinute: 6 } }), autoPause: 'on' as const },
    { name: 'auto-pause is shadow', rule: rated({ onTrip: { maxPerMinute: 6 } }), autoPause: 'shadow' as const },
  ])('shadow wins over on_trip when $name', ({ rule, autoPause }) => {
    const [hold] = decide(input({ rules: [rule], counts: counts(10, 10), autoPause })).add;
    expect(hold).toMatchObject({ effect: 'shadow', providers: ['twilio'] });
    expect(hold).not.toHaveProperty('maxPerMinute');
    expect(hold!.reason).not.toContain('throttled');
  });

  it('with auto-pause off, trips nothing, and keeps a throttle until the rule clears', () => {
    const rule = rated({ onTrip: { maxPerMinute: 6 } });
    expect(decide(input({ rules: [rule], counts: counts(10, 10), autoPause: 'off' })).add).toEqual([]);
    const hold = placed(decide(input({ rules: [rule], counts: counts(10, 10) })).add[0]!);
    expect(decide(input({ rules: [rule], holds: [hold], counts: counts(10, 10), autoPause: 'off' }))).toEqual({
      add: [],
      release: [],
      startClear: [],
      stopClear: [],
    });
  });
});
