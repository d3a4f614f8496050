import type { Hold, Rule } from './types.js';

/** A hold about to be placed; the ledger stamps `since` with Redis' clock. */
export type NewHold = Omit<Hold, 'since'>;

export interface Release {
  id: string;
  by: string;
  reason: string;
  /** Release only if this rule is still clear when the release lands (guards a racing trip). */
  ifClear?: string;
}

export interface DecideInput {
  rules: Rule[];
  /** Errors counted over each rule's window. */
  counts: Record<string, number>;
  holds: Hold[];
  /** When each rule was first seen below threshold (absent: not clear, or nothing to resume). */
  clearSince: Record<string, number>;
  now: number;
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: 'on' | 'off';
  /**
   * A full evaluation also expires manual holds past their `until` and drops holds of rules that
   * are no longer configured. The fast check after counting looks only at the rules it was given.
   */
  full: boolean;
}

export interface Decision {
  add: NewHold[];
  release: Release[];
  /** Rules whose clear-since time starts now (set only if not already set). */
  startClear: string[];
  /** Rules whose clear-since time is forgotten. */
  stopClear: string[];
}

export const SYSTEM_ACTOR = 'callguard';

/** Pure: what should change, given the counts, the holds and the clock. */
export function decide(input: DecideInput): Decision {
  const { rules, counts, holds, clearSince, now } = input;
  const decision: Decision = { add: [], release: [], startClear: [], stopClear: [] };
  const held = new Map(holds.map((h) => [h.id, h]));
  const resumeAfterMs = input.autoResumeMinutes * input.minuteMs;

  for (const rule of rules) {
    const count = counts[rule.name] ?? 0;
    const holdId = ruleHoldId(rule.name);
    const hold = held.get(holdId);
    if (count >= rule.thresholdCount) {
      if (clearSince[rule.name] !== undefined) decision.stopClear.push(rule.name);
      if (!hold && input.autoPause === 'on') decision.add.push(ruleHold(rule, count));
      continue;
    }
    if (!hold) {
      if (clearSince[rule.name] !== undefined) decision.stopClear.push(rule.name);
      continue;
    }
    // Measured from when the rule first cleared, not from the pause: the original resumed a
    // provider that was still failing because it counted from the moment of the pause.
    const clearedAt = clearSince[rule.name];
    if (clearedAt === undefined) decision.startClear.push(rule.name);
    if (now - (clearedAt ?? now) >= resumeAfterMs) {
      decision.release.push({
        id: holdId,
        by: SYSTEM_ACTOR,
        reason: `${rule.name} below threshold (${count}/${rule.thresholdCount}) for ${input.autoResumeMinutes} min`,
        ifClear: rule.name,
      });
      decision.stopClear.push(rule.name);
    }
  }

  if (input.full) {
    const configured = new Set(rules.map((r) => r.name));
    for (const hold of holds) {
      if (hold.kind === 'manual' && hold.until !== undefined && hold.until <= now) {
        decision.release.push({ id: hold.id, by: SYSTEM_ACTOR, reason: `until ${new Date(hold.until).toISOString()} passed` });
      } else if (hold.kind === 'rule' && hold.rule && !configured.has(hold.rule)) {
        decision.release.push({ id: hold.id, by: SYSTEM_ACTOR, reason: `rule ${hold.rule} is no longer configured` });
        decision.stopClear.push(hold.rule);
      }
    }
  }
  return decision;
}

export function ruleHoldId(rule: string): string {
  return `rule:${rule}`;
}

function ruleHold(rule: Rule, count: number): NewHold {
  return {
    id: ruleHoldId(rule.name),
    kind: 'rule',
    scope: rule.queues,
    by: SYSTEM_ACTOR,
    reason: `${rule.name}: ${count} errors in ${rule.windowMinutes} min (threshold ${rule.thresholdCount})`,
    rule: rule.name,
    count,
    threshold: rule.thresholdCount,
    windowMinutes: rule.windowMinutes,
  };
}

export function isDecisionEmpty(d: Decision): boolean {
  return !d.add.length && !d.release.length && !d.startClear.length && !d.stopClear.length;
}
