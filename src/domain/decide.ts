import { effectOf, ruleHoldId, type Hold, type HoldEffect, type NewHold, type RuleHold } from './hold.js';
import { trips, verdict, type Verdict } from './outcomes.js';
import { BUILT_IN_PRINCIPALS } from './roles.js';
import type { Rule } from './types.js';
import { silenceOf, type Silence } from './silence.js';

export interface Release {
  id: string;
  by: string;
  reason: string;
  /** Release only if this rule is still clear when the release lands (guards a racing trip). */
  ifClear?: string;
  /** Release only if this principal placed the hold when the release lands (guards a racing notice from another sender). */
  owner?: string;
  /** Release only if the hold under this id still has this effect when the release lands (guards a racing trip). */
  ifEffect?: HoldEffect;
}

export type AutoPause = 'on' | 'shadow' | 'off';

export interface DecideInput {
  rules: Rule[];
  /** Counts over each rule's window: its errors under its name, its outcomes under outcomeCounter() names. */
  counts: Record<string, number>;
  holds: Hold[];
  /** When each rule was first seen below threshold (absent: not clear, or nothing to resume). */
  clearSince: Record<string, number>;
  now: number;
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: AutoPause;
  /** Silences in force: a silenced rule places no hold and its hold is released (counting goes on). */
  silences?: readonly Silence[];
  /**
   * A full evaluation also expires manual holds past their `until` and drops holds of rules that
   * are no longer configured. The fast check after counting looks only at the rules it was given.
   */
  full: boolean;
}

/** Releases are applied before adds, so a hold can change effect under the same id in one step. */
export interface Decision {
  add: NewHold[];
  release: Release[];
  /** Rules whose clear-since time starts now (set only if not already set). */
  startClear: string[];
  /** Rules whose clear-since time is forgotten. */
  stopClear: string[];
}

export const SYSTEM_ACTOR = BUILT_IN_PRINCIPALS.system;

type TripEffect = 'pause' | 'shadow' | 'throttle';

/** What a tripped rule does under the global switch, its own mode and its on_trip; undefined: nothing. */
export function tripEffect(rule: Rule, autoPause: AutoPause): TripEffect | undefined {
  if (autoPause === 'off') return undefined;
  if (autoPause === 'shadow' || rule.mode === 'shadow') return 'shadow';
  return rule.onTrip ? 'throttle' : 'pause';
}

/** Pure: what should change, given the counts, the holds and the clock. */
export function decide(input: DecideInput): Decision {
  const { rules, counts, holds, clearSince, now } = input;
  const decision: Decision = { add: [], release: [], startClear: [], stopClear: [] };
  const held = new Map(holds.map((h) => [h.id, h]));
  const resumeAfterMs = input.autoResumeMinutes * input.minuteMs;
  const release = (id: string, reason: string, guard: Pick<Release, 'ifClear' | 'ifEffect'> = {}) =>
    decision.release.push({ id, by: SYSTEM_ACTOR, reason, ...guard });

  for (const rule of rules) {
    const id = ruleHoldId(rule.name);
    const hold = held.get(id);
    const hadClear = clearSince[rule.name] !== undefined;
    const silence = silenceOf(rule, input.silences ?? [], now);
    if (silence) {
      // When the silence ends, the clock starts afresh: a rule still over threshold trips at once.
      if (hadClear) decision.stopClear.push(rule.name);
      if (hold) {
        const reason = `${rule.name} silenced by ${silence.by} until ${new Date(silence.until).toISOString()}: ${silence.reason}`;
        decision.release.push({ id, by: silence.by, reason });
      }
      continue;
    }
    // Most rules neither trip nor hold anything: only trips() is asked of them, the numbers of none.
    const probing = hold !== undefined && effectOf(hold) === 'probe';

    if (trips(rule, counts, probing)) {
      if (hadClear) decision.stopClear.push(rule.name);
      const effect = tripEffect(rule, input.autoPause);
      // Auto-pause switched off keeps existing holds until their rules clear: it never resumes a failing provider.
      if (hold && (effectOf(hold) === effect || effect === undefined)) continue;
      // A probe that sees the rule trip again re-pauses at once; a hold of another mode is replaced.
      if (hold) {
        const reason = effectOf(hold) === 'probe' ? `${rule.name} tripped again during the probe` : `${rule.name} changed mode`;
        release(id, reason, { ifEffect: effectOf(hold) });
      }
      if (effect) decision.add.push(ruleHold(rule, verdict(rule, counts, probing), effect, probing));
      continue;
    }

    if (!hold) {
      if (hadClear) decision.stopClear.push(rule.name);
      continue;
    }
    if (effectOf(hold) === 'probe') {
      if (hold.until !== undefined && now >= hold.until) {
        release(id, `${rule.name} stayed below threshold through the probe`, { ifEffect: 'probe' });
        if (hadClear) decision.stopClear.push(rule.name);
      }
      continue;
    }
    // Measured from when the rule first cleared, not from the pause: the original resumed a
    // provider that was still failing because it counted from the moment of the pause.
    const clearedAt = clearSince[rule.name];
    if (clearedAt === undefined) decision.startClear.push(rule.name);
    if (now - (clearedAt ?? now) < resumeAfterMs) continue;
    release(id, `${rule.name} below threshold (${verdict(rule, counts, probing).summary}) for ${input.autoResumeMinutes} min`, {
      ifClear: rule.name,
    });
    decision.stopClear.push(rule.name);
    if (effectOf(hold) === 'pause' && rule.probe) decision.add.push(probeHold(rule, now, input.minuteMs));
  }

  if (input.full) {
    const configured = new Set(rules.map((r) => r.name));
    for (const hold of holds) {
      if (hold.kind === 'manual' && hold.until !== undefined && hold.until <= now) {
        release(hold.id, `until ${new Date(hold.until).toISOString()} passed`);
      } else if (hold.kind === 'rule' && hold.rule && !configured.has(hold.rule)) {
        release(hold.id, `rule ${hold.rule} is no longer configured`);
        decision.stopClear.push(hold.rule);
      }
    }
  }
  return decision;
}

/** What every hold of a rule carries: its id, scope, providers, threshold and window. */
function ruleHoldBase(rule: Rule, reason: string) {
  return {
    id: ruleHoldId(rule.name),
    kind: 'rule' as const,
    scope: rule.queues,
    ...(rule.providers ? { providers: rule.providers } : {}),
    by: SYSTEM_ACTOR,
    reason,
    rule: rule.name,
    ...(rule.thresholdCount !== undefined ? { threshold: rule.thresholdCount } : {}),
    windowMinutes: rule.windowMinutes,
  };
}

function ruleHold(rule: Rule, v: Verdict, effect: TripEffect, afterProbe = false): Omit<RuleHold, 'since'> {
  const throttle = effect === 'throttle' ? `; throttled to ${rule.onTrip!.maxPerMinute} jobs per minute` : '';
  return {
    ...ruleHoldBase(rule, `${rule.name}: ${v.summary}${afterProbe ? '; tripped again during the probe' : ''}${throttle}`),
    ...(afterProbe ? { afterProbe } : {}),
    count: v.count,
    ...(v.calls ? { calls: v.calls, failures: v.failures, slow: v.slow } : {}),
    ...(effect !== 'pause' ? { effect } : {}),
    ...(effect === 'throttle' ? { maxPerMinute: rule.onTrip!.maxPerMinute } : {}),
  };
}

function probeHold(rule: Rule, now: number, minuteMs: number): Omit<RuleHold, 'since'> {
  const { minutes, maxPerMinute } = rule.probe!;
  return {
    ...ruleHoldBase(rule, `${rule.name} cleared; probing with at most ${maxPerMinute} jobs per minute for ${minutes} min`),
    effect: 'probe',
    maxPerMinute,
    until: now + minutes * minuteMs,
  };
}
