import { describe, expect, it } from 'vitest';
import { describeState, ruleState, type RuleStateInput } from '../src/http/console/rule-state.js';
import type { Hold, Rule } from '../src/domain/types.js';

const MINUTE = 60_000;
const NOW = 1_000 * MINUTE;
const rule: Rule = { name: 'twilio', thresholdCount: 5, windowMinutes: 10, logPatterns: [], queues: ['calls'], minLevel: 0 };
const hold = (extra: Partial<Hold> = {}): Hold => ({
  id: 'rule:twilio',
  kind: 'rule',
  scope: ['calls'],
  by: 'callguard',
  reason: 'r',
  since: NOW - 5 * MINUTE,
  rule: 'twilio',
  ...extra,
});
const input = (extra: Partial<RuleStateInput>): RuleStateInput => ({
  rule,
  counts: {},
  holds: [],
  clearSince: undefined,
  now: NOW,
  minuteMs: MINUTE,
  autoResumeMinutes: 5,
  ...extra,
});

describe('a rule’s state on the console', () => {
  it.each<[string, Partial<RuleStateInput>, string]>([
    ['no errors, no hold', {}, 'clear'],
    ['some errors, below threshold', { counts: { twilio: 3 } }, 'counting (3/5 errors in 10 min)'],
    ['at threshold, held', { counts: { twilio: 5 }, holds: [hold()] }, 'tripped'],
    ['at threshold in shadow', { counts: { twilio: 6 }, holds: [hold({ effect: 'shadow' })] }, 'tripped (shadow: would pause)'],
    ['at threshold with auto-pause off (no hold)', { counts: { twilio: 5 } }, 'tripped (auto-pause off)'],
    [
      'below threshold, held, clear for 2 of 5 min',
      { counts: { twilio: 1 }, holds: [hold()], clearSince: NOW - 2.5 * MINUTE },
      'clear for 2 of 5 min until resume',
    ],
    ['below threshold, held, clear clock not started yet', { counts: { twilio: 0 }, holds: [hold()] }, 'clear for 0 of 5 min until resume'],
    [
      'clear past the delay (the release is in flight)',
      { holds: [hold()], clearSince: NOW - 9 * MINUTE },
      'clear for 5 of 5 min until resume',
    ],
    ['probing', { counts: { twilio: 1 }, holds: [hold({ effect: 'probe', until: NOW + MINUTE })] }, 'probing'],
    [
      'another rule’s hold does not count',
      { counts: { twilio: 2 }, holds: [hold({ id: 'rule:sendgrid', rule: 'sendgrid' })] },
      'counting (2/5 errors in 10 min)',
    ],
  ])('when %s, then it reads “%s”', (_when, given, expected) => {
    expect(describeState(ruleState(input(given)))).toBe(expected);
  });

  it('when a held rule is clearing, then the expected resume is clear-since plus the resume delay', () => {
    const clearSince = NOW - 2 * MINUTE;
    expect(ruleState(input({ holds: [hold()], clearSince }))).toEqual({
      state: 'clearing',
      minutes: 2,
      of: 5,
      resumeAt: clearSince + 5 * MINUTE,
    });
  });
});
