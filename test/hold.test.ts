import { describe, expect, it } from 'vitest';
import {
  alertHoldId,
  covers,
  effectOf,
  isPausing,
  manualHoldId,
  queuesOf,
  ruleHoldId,
  ruleOf,
  type Hold,
  type RuleHold,
} from '../src/domain/hold.js';
import { probeLimit } from '../src/engine/enforcer.js';

const T0 = 1_800_000_000_000;
const base = { by: 'callguard', reason: 'r', since: T0 };
const ruleHold = (extra: Partial<RuleHold> = {}): RuleHold => ({
  ...base,
  id: 'rule:twilio',
  kind: 'rule',
  scope: 'all',
  rule: 'twilio',
  ...extra,
});
const probe = (maxPerMinute: number, scope: RuleHold['scope'], rule = 'twilio'): RuleHold =>
  ruleHold({ id: `rule:${rule}`, rule, scope, effect: 'probe', maxPerMinute, until: T0 + 60_000 });
const manual: Hold = { ...base, id: 'manual:1', kind: 'manual', scope: ['sms'], by: 'alice' };
const alert: Hold = { ...base, id: 'alert:grafana:x', kind: 'alert', scope: ['calls'], by: 'alert:grafana', rule: 'twilio' };

describe('the hold', () => {
  it.each([
    ['a rule hold without effect', ruleHold(), 'pause'],
    ['a shadow rule hold', ruleHold({ effect: 'shadow' }), 'shadow'],
    ['a probe rule hold', ruleHold({ effect: 'probe' }), 'probe'],
    ['a manual hold', manual, 'pause'],
    ['an alert hold', alert, 'pause'],
  ] as const)('%s has effect %s', (_what, hold, effect) => {
    expect(effectOf(hold)).toBe(effect);
    expect(isPausing(hold)).toBe(effect === 'pause');
  });

  it.each([
    ['all', 'calls', true],
    [['calls'], 'calls', true],
    [['calls'], 'sms', false],
    [[], 'calls', false],
  ] as const)('scope %j covers %s: %s', (scope, queue, expected) => {
    expect(covers(scope as string[] | 'all', queue)).toBe(expected);
    expect(covers(ruleHold({ scope: scope as string[] | 'all' }), queue)).toBe(expected);
  });

  it('lists the queues a scope covers', () => {
    expect(queuesOf('all', ['calls', 'sms'])).toEqual(['calls', 'sms']);
    expect(queuesOf(['sms'], ['calls', 'sms'])).toEqual(['sms']);
  });

  it('builds ids and names rules', () => {
    expect(ruleHoldId('twilio')).toBe('rule:twilio');
    expect(alertHoldId({ source: 'alertmanager', id: 'fp-1' })).toBe('alert:alertmanager:fp-1');
    expect(manualHoldId('42')).toBe('manual:42');
    expect(manualHoldId()).toMatch(/^manual:[0-9a-f-]{36}$/);
    expect([ruleOf(ruleHold()), ruleOf(alert), ruleOf(manual)]).toEqual(['twilio', 'twilio', undefined]);
  });
});

describe('probeLimit', () => {
  it.each([
    ['no holds', [], 'calls', undefined],
    ['a pausing hold only', [ruleHold()], 'calls', undefined],
    ['a probe over all queues', [probe(5, 'all')], 'calls', 5],
    ['a probe over another queue', [probe(5, ['sms'])], 'calls', undefined],
    ['two probes: the tightest wins', [probe(5, 'all'), probe(2, ['calls'], 'plivo')], 'calls', 2],
    ['a tighter probe elsewhere does not apply', [probe(5, 'all'), probe(2, ['sms'], 'plivo')], 'calls', 5],
    ['a shadow hold with a limit is not a probe', [ruleHold({ effect: 'shadow', maxPerMinute: 1 })], 'calls', undefined],
  ] as const)('%s → %s', (_what, holds, queue, expected) => {
    expect(probeLimit([...holds], queue)).toBe(expected);
  });
});
