/**
 * Call outcomes and the rules that read them. A guarded worker reports, per provider, calls,
 * failures and calls slower than each slow_call_ms it knows of; callguard counts them per rule
 * in the rule's own minute buckets under counter names `<rule>#calls`, `<rule>#failures` and
 * `<rule>#slow` (rule names cannot contain '#'), next to the rule's error count `<rule>`.
 */
import type { Rule } from './types.js';

/** What one provider's calls did since the last flush; `slow` maps slow_call_ms → calls at least that slow. */
export interface ProviderOutcomes {
  calls: number;
  failures: number;
  slow?: Record<string, number>;
}

export const OUTCOME_PARTS = ['calls', 'failures', 'slow'] as const;
export type OutcomePart = (typeof OUTCOME_PARTS)[number];

/** A named count with a window: a rule's error count or one of its outcome counts. */
export interface Counted {
  name: string;
  windowMinutes: number;
}

export function outcomeCounter(rule: string, part: OutcomePart): string {
  return `${rule}#${part}`;
}

export function readsOutcomes(rule: Rule): boolean {
  return rule.failureRate !== undefined || rule.slowCallRate !== undefined;
}

/** Every count the rules need read: each rule's errors, and the outcome counts of rate rules. */
export function countersOf(rules: Rule[]): Counted[] {
  return rules.flatMap((r) => [
    { name: r.name, windowMinutes: r.windowMinutes },
    ...(readsOutcomes(r) ? OUTCOME_PARTS.map((p) => ({ name: outcomeCounter(r.name, p), windowMinutes: r.windowMinutes })) : []),
  ]);
}

/** The slow_call_ms thresholds a worker must measure for a provider (sorted, distinct). */
export function slowThresholds(rules: readonly Rule[], provider: string): number[] {
  const ms = rules.flatMap((r) => (r.slowCallMs !== undefined && r.providers?.includes(provider) ? [r.slowCallMs] : []));
  return [...new Set(ms)].sort((a, b) => a - b);
}

/**
 * Turns one report's provider outcomes into counts per rule counter: a rule adds up the outcomes
 * of all its providers. Outcomes of providers no rule reads count nowhere.
 */
export function outcomeCounts(rules: Rule[], outcomes: Record<string, ProviderOutcomes>): Array<[Counted, number]> {
  const out: Array<[Counted, number]> = [];
  for (const rule of rules) {
    if (!readsOutcomes(rule)) continue;
    const mine = (rule.providers ?? []).flatMap((p) => (outcomes[p] ? [outcomes[p]] : []));
    if (!mine.length) continue;
    const sum = (f: (o: ProviderOutcomes) => number) => mine.reduce((n, o) => n + f(o), 0);
    const parts: Record<OutcomePart, number> = {
      calls: sum((o) => o.calls),
      failures: sum((o) => o.failures),
      slow: rule.slowCallMs === undefined ? 0 : sum((o) => o.slow?.[String(rule.slowCallMs)] ?? 0),
    };
    // All three, zeros too: the recording script then returns every window sum verdict() needs.
    for (const part of OUTCOME_PARTS) {
      out.push([{ name: outcomeCounter(rule.name, part), windowMinutes: rule.windowMinutes }, parts[part]]);
    }
  }
  return out;
}

export interface Verdict {
  tripped: boolean;
  /** What the numbers say, for hold reasons and status lines. */
  summary: string;
  count: number;
  calls: number;
  failures: number;
  slow: number;
}

const ERRORS = 1;
const FAILURES = 2;
const SLOW = 4;

/**
 * Which of a rule's limits its window's counts reach, as bits (ERRORS, FAILURES, SLOW); 0: none.
 * Allocates nothing: a tick at 10,000 rules asks it of every rule (bench P5).
 */
function reached(rule: Rule, counts: Record<string, number>, probing: boolean): number {
  const bits = rule.thresholdCount !== undefined && (counts[rule.name] ?? 0) >= rule.thresholdCount ? ERRORS : 0;
  // Only rate rules have outcome counts (countersOf reads them for no other rule).
  if (!readsOutcomes(rule)) return bits;
  const [callsKey, failuresKey, slowKey] = partKeys(rule);
  const calls = counts[callsKey] || 0;
  const minCalls = Math.min(rule.minCalls ?? Infinity, probing && rule.probe ? rule.probe.maxPerMinute : Infinity);
  if (!(calls > 0 && calls >= minCalls)) return bits;
  const failuresTrip = rule.failureRate !== undefined && (counts[failuresKey] || 0) / calls >= rule.failureRate;
  const slowTrip = rule.slowCallRate !== undefined && (counts[slowKey] || 0) / calls >= rule.slowCallRate;
  return bits | (failuresTrip ? FAILURES : 0) | (slowTrip ? SLOW : 0);
}

/**
 * Whether a rule trips on its window's counts: errors at threshold_count, or — with at least
 * min_calls calls — failures or slow calls at their rate. During a probe few calls run, so the
 * probe's own allowance stands in for min_calls when it is smaller: a probe that keeps failing
 * re-holds instead of waiting for calls the probe never lets through.
 */
export function trips(rule: Rule, counts: Record<string, number>, probing = false): boolean {
  return reached(rule, counts, probing) !== 0;
}

/** trips(), with the numbers it went by and a summary of them. */
export function verdict(rule: Rule, counts: Record<string, number>, probing = false): Verdict {
  const bits = reached(rule, counts, probing);
  const count = counts[rule.name] ?? 0;
  const [callsKey, failuresKey, slowKey] = readsOutcomes(rule) ? partKeys(rule) : NO_PARTS;
  const calls = (callsKey && counts[callsKey]) || 0;
  const failures = (failuresKey && counts[failuresKey]) || 0;
  const slow = (slowKey && counts[slowKey]) || 0;
  const why = { errorsTrip: (bits & ERRORS) !== 0, failuresTrip: (bits & FAILURES) !== 0, slowTrip: (bits & SLOW) !== 0 };
  return {
    tripped: bits !== 0,
    // Written only when read: most rules of a tick are neither tripped nor reported (bench P5).
    get summary() {
      return summaryOf(rule, this, why);
    },
    count,
    calls,
    failures,
    slow,
  };
}

const NO_PARTS = ['', '', ''] as const;

// The outcome counters' names, made once per rule: a tick at 10,000 rules asks for them 10,000 times (bench P5).
const partKeyCache = new WeakMap<Rule, { name: string; keys: [string, string, string] }>();
function partKeys(rule: Rule): readonly [string, string, string] {
  let cached = partKeyCache.get(rule);
  // Rules change in place when another version becomes active: a renamed rule gets its own names.
  if (cached?.name !== rule.name) {
    const keys: [string, string, string] = [
      outcomeCounter(rule.name, 'calls'),
      outcomeCounter(rule.name, 'failures'),
      outcomeCounter(rule.name, 'slow'),
    ];
    partKeyCache.set(rule, (cached = { name: rule.name, keys }));
  }
  return cached.keys;
}

function summaryOf(
  rule: Rule,
  v: Omit<Verdict, 'summary' | 'tripped'>,
  why: { errorsTrip: boolean; failuresTrip: boolean; slowTrip: boolean },
): string {
  const { count, calls, failures, slow } = v;
  const window = `in ${rule.windowMinutes} min`;
  const pct = (n: number) => `${Math.round((n / calls) * 100)} %`;
  // 0.29 * 100 is 28.999999999999996 in floating point; a tenth of a percent is as fine as rates go.
  const threshold = (rate: number) => `threshold ${Math.round(rate * 1000) / 10} %`;
  const reasons: string[] = [];
  if (why.errorsTrip) reasons.push(`${count} errors ${window} (threshold ${rule.thresholdCount})`);
  if (why.failuresTrip) reasons.push(`${failures} of ${calls} calls failed ${window} (${pct(failures)}, ${threshold(rule.failureRate!)})`);
  if (why.slowTrip) {
    reasons.push(`${slow} of ${calls} calls slower than ${rule.slowCallMs} ms ${window} (${pct(slow)}, ${threshold(rule.slowCallRate!)})`);
  }
  if (reasons.length) return reasons.join('; ');
  return (
    [
      ...(rule.thresholdCount !== undefined ? [`${count}/${rule.thresholdCount} errors`] : []),
      ...(readsOutcomes(rule) ? [`${failures} failed and ${slow} slow of ${calls} calls`] : []),
    ].join(', ') + ` ${window}`
  );
}
