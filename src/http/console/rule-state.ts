import { effectOf, ruleHoldId } from '../../domain/hold.js';
import { verdict } from '../../domain/outcomes.js';
import type { Hold, HoldEffect, Rule } from '../../domain/types.js';

/** Where a rule stands, as an operator reads it. */
export type RuleState =
  | { state: 'clear' }
  | { state: 'counting'; summary: string }
  /** At or over its threshold; `effect` is what its hold does (none: auto-pause is off). */
  | { state: 'tripped'; effect: HoldEffect | 'none' }
  /** Below threshold again, its hold waits until the rule has been clear for `of` minutes. */
  | { state: 'clearing'; minutes: number; of: number; resumeAt: number }
  | { state: 'probing'; until: number | undefined };

export interface RuleStateInput {
  rule: Rule;
  /** Window sums by counter name (the rule's errors, and its outcomes for rate rules). */
  counts: Record<string, number>;
  holds: Hold[];
  clearSince: number | undefined;
  now: number;
  minuteMs: number;
  autoResumeMinutes: number;
}

/** Pure: the rule's state from the same inputs decide() reads. */
export function ruleState(i: RuleStateInput): RuleState {
  const hold = i.holds.find((h) => h.id === ruleHoldId(i.rule.name));
  const v = verdict(i.rule, i.counts, hold !== undefined && effectOf(hold) === 'probe');
  if (v.tripped) return { state: 'tripped', effect: hold ? effectOf(hold) : 'none' };
  if (!hold) return v.count > 0 || v.calls > 0 ? { state: 'counting', summary: v.summary } : { state: 'clear' };
  if (effectOf(hold) === 'probe') return { state: 'probing', until: hold.until };
  const since = i.clearSince ?? i.now;
  const minutes = Math.min(i.autoResumeMinutes, Math.max(0, Math.floor((i.now - since) / i.minuteMs)));
  return { state: 'clearing', minutes, of: i.autoResumeMinutes, resumeAt: since + i.autoResumeMinutes * i.minuteMs };
}

/** One line for the rules table. */
export function describeState(s: RuleState): string {
  switch (s.state) {
    case 'clear':
      return 'clear';
    case 'counting':
      return `counting (${s.summary})`;
    case 'tripped':
      return s.effect === 'none'
        ? 'tripped (auto-pause off)'
        : s.effect === 'shadow'
          ? 'tripped (shadow: would pause)'
          : s.effect === 'throttle'
            ? 'tripped (throttled)'
            : 'tripped';
    case 'clearing':
      return `clear for ${s.minutes} of ${s.of} min until resume`;
    case 'probing':
      return 'probing';
  }
}
