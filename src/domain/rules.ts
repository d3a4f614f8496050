import { z } from 'zod';
import { ConfigError } from './errors.js';
import { issueLines } from './zod-issues.js';
import { readsOutcomes } from './outcomes.js';
import type { Rule } from './types.js';

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/** Provider names travel in job data, hold ids and `queue:provider` targets: no ':' or spaces. */
export const PROVIDER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** The most candidate providers one job may list: the guard's step is bounded by it. */
export const MAX_CANDIDATES = 8;

/** Why a candidate list cannot be checked, or undefined when it can. */
export function candidatesProblem(candidates: readonly string[]): string | undefined {
  if (candidates.length > MAX_CANDIDATES) return `at most ${MAX_CANDIDATES} candidate providers per job, got ${candidates.length}`;
  const bad = candidates.find((p) => typeof p !== 'string' || !PROVIDER_NAME.test(p));
  if (bad !== undefined) return `provider name ${JSON.stringify(bad)} must match ${PROVIDER_NAME}`;
  if (new Set(candidates).size !== candidates.length) return `candidate providers must be distinct: ${candidates.join(', ')}`;
  return undefined;
}

const rate = z.number().gt(0, 'must be above 0').lte(1, 'must be at most 1 (a fraction: 0.5 is 50 %)');
const perMinute = z.number().int().positive();

/** The longest window a rule may have: a day of minutes. */
export const MAX_WINDOW_MINUTES = 1440;

// Calls a rate needs in the window when the rule does not say (resilience4j's minimumNumberOfCalls).
export const DEFAULT_MIN_CALLS = 10;

const ruleSchema = z
  .object({
    threshold_count: z.number().int().positive().optional(),
    // Every report reads its rules' kept buckets (the longest window's worth): a day bounds that work.
    window_minutes: z.number().int().positive().max(MAX_WINDOW_MINUTES, `at most ${MAX_WINDOW_MINUTES} (a day)`),
    log_patterns: z.array(z.string().trim().min(1, 'empty pattern')).optional(),
    queues: z.array(z.string().min(1)).min(1).optional(),
    min_level: z.enum(Object.keys(LEVELS) as [keyof typeof LEVELS]).optional(),
    mode: z.enum(['enforce', 'shadow']).optional(),
    probe: z.object({ minutes: z.number().int().positive(), max_per_minute: perMinute }).strict().optional(),
    providers: z
      .array(z.string().regex(PROVIDER_NAME, `must match ${PROVIDER_NAME}`))
      .min(1)
      .optional(),
    failure_rate: rate.optional(),
    slow_call_ms: z.number().int().positive().optional(),
    slow_call_rate: rate.optional(),
    min_calls: z.number().int().positive().optional(),
    on_trip: z.object({ max_per_minute: perMinute }).strict().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const rated = r.failure_rate !== undefined || r.slow_call_rate !== undefined;
    if (r.threshold_count === undefined && !rated) problem('threshold_count', 'required unless failure_rate or slow_call_rate is given');
    if (rated && !r.providers)
      problem('providers', 'required with failure_rate or slow_call_rate: rates are read from these providers’ call outcomes');
    if ((r.slow_call_ms === undefined) !== (r.slow_call_rate === undefined)) {
      problem(r.slow_call_ms === undefined ? 'slow_call_ms' : 'slow_call_rate', 'slow_call_ms and slow_call_rate go together');
    }
    if (r.log_patterns === undefined && !rated) problem('log_patterns', 'required unless failure_rate or slow_call_rate is given');
    if (r.min_calls !== undefined && !rated) problem('min_calls', 'only means something with failure_rate or slow_call_rate');
  });

const RULE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

// Words that show up in almost every failure log line; alone they pause on unrelated errors.
const GENERIC_WORDS = new Set(['error', 'errors', 'failed', 'failure', 'fail', 'exception', 'timeout', 'warning', 'warn', 'call', 'calls']);

/** Calls per second a provider's account takes (its capacity), across every worker and instance. */
export type Capacities = Record<string, number>;

// A capacity's log holds one entry per call in the last second: the bound keeps the guard's step small.
export const MAX_PER_SECOND = 1000;

const providersSchema = z.record(
  z.string().regex(PROVIDER_NAME, `must match ${PROVIDER_NAME}`),
  z.object({ max_per_second: z.number().int().positive().max(MAX_PER_SECOND) }).strict(),
);

export interface LoadedRules {
  rules: Rule[];
  /** From the file's `providers` (second shape); empty for the flat shape. */
  capacities: Capacities;
  warnings: string[];
}

export function parseRules(text: string, file: string, dispatchQueues: string[]): LoadedRules {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: invalid JSON: ${describeJsonError(err as Error, text)}`);
  }
  if (!isObject(json)) {
    throw new ConfigError(`${file}: expected an object of rules keyed by rule name, or {"rules": {...}, "providers": {...}}`);
  }
  const problems: string[] = [];
  const rules: Rule[] = [];
  const capacities: Capacities = {};
  let ruleEntries = json;
  if (isSecondShape(json)) {
    if (!isObject(json.rules)) problems.push(`${file}: field rules: expected an object of rules keyed by rule name`);
    ruleEntries = isObject(json.rules) ? json.rules : {};
    const parsed = providersSchema.safeParse(json.providers ?? {});
    if (!parsed.success) for (const line of issueLines(parsed.error, { root: 'providers' })) problems.push(`${file}: field ${line}`);
    else for (const [name, p] of Object.entries(parsed.data)) capacities[name] = p.max_per_second;
  }
  for (const [name, raw] of Object.entries(ruleEntries)) {
    if (!RULE_NAME.test(name)) {
      problems.push(`${file}: rule "${name}": name must match ${RULE_NAME}`);
      continue;
    }
    const parsed = ruleSchema.safeParse(raw);
    if (!parsed.success) {
      for (const line of issueLines(parsed.error, { whole: '(rule)' })) problems.push(`${file}: rule "${name}": field ${line}`);
      continue;
    }
    const r = parsed.data;
    const unknownQueues = (r.queues ?? []).filter((q) => !dispatchQueues.includes(q));
    if (unknownQueues.length) {
      problems.push(
        `${file}: rule "${name}": field queues: ${unknownQueues.join(', ')} not in CALLGUARD_QUEUES (${dispatchQueues.join(', ')})`,
      );
      continue;
    }
    rules.push({
      name,
      ...(r.threshold_count !== undefined ? { thresholdCount: r.threshold_count } : {}),
      windowMinutes: r.window_minutes,
      logPatterns: r.log_patterns ?? [],
      queues: r.queues ? [...new Set(r.queues)] : 'all',
      minLevel: LEVELS[r.min_level ?? 'warn'],
      ...(r.mode ? { mode: r.mode } : {}),
      ...(r.probe ? { probe: { minutes: r.probe.minutes, maxPerMinute: r.probe.max_per_minute } } : {}),
      ...(r.providers ? { providers: [...new Set(r.providers)] } : {}),
      ...(r.failure_rate !== undefined ? { failureRate: r.failure_rate } : {}),
      ...(r.slow_call_rate !== undefined ? { slowCallMs: r.slow_call_ms!, slowCallRate: r.slow_call_rate } : {}),
      ...(r.failure_rate !== undefined || r.slow_call_rate !== undefined ? { minCalls: r.min_calls ?? DEFAULT_MIN_CALLS } : {}),
      ...(r.on_trip ? { onTrip: { maxPerMinute: r.on_trip.max_per_minute } } : {}),
    });
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return { rules, capacities, warnings: lintRules(rules, file) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `{"rules": {…}, "providers": {…}}` rather than rules keyed by name: only those two keys, and
 * `rules` is not itself a rule (a flat file may name a rule "rules").
 */
function isSecondShape(json: Record<string, unknown>): boolean {
  const keys = Object.keys(json);
  if (!keys.length || !keys.every((k) => k === 'rules' || k === 'providers')) return false;
  if ('providers' in json && !('window_minutes' in (isObject(json.providers) ? json.providers : {}))) return true;
  return isObject(json.rules) && !('window_minutes' in json.rules);
}

/** Patterns broad enough to cause false pauses (the original's catch-all did). Warned, not refused. */
export function lintRules(rules: Rule[], file = 'rules'): string[] {
  const warnings: string[] = [];
  for (const rule of rules) {
    for (const p of rule.logPatterns) {
      const lower = p.toLowerCase();
      const why =
        lower === rule.name.toLowerCase()
          ? 'equals the rule name, so any log line mentioning the provider counts'
          : GENERIC_WORDS.has(lower)
            ? 'is a generic word that matches unrelated failures'
            : !/\s/.test(lower) && lower.length < 8
              ? 'is a single short word'
              : undefined;
      if (why) warnings.push(`${file}: rule "${rule.name}": field log_patterns: "${p}" ${why}; it may cause false pauses`);
    }
    if (rule.probe && rule.onTrip) {
      warnings.push(
        `${file}: rule "${rule.name}": field probe: has no effect with on_trip (a throttled provider is never stopped, so it is not probed)`,
      );
    }
    if (rule.logPatterns.length === 0 && !readsOutcomes(rule)) {
      warnings.push(`${file}: rule "${rule.name}": field log_patterns: empty; only explicit error reports and alerts will count`);
    }
  }
  return warnings;
}

function describeJsonError(err: Error, text: string): string {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return err.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split('\n');
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  return `${err.message.replace(/\s*\(line \d+ column \d+\)/, '')} (line ${line}, column ${column})`;
}

/** Every provider a rules document names, with where: a rule's `providers`, or the `providers` section (capacities). */
export function namedProviders(rules: readonly Rule[], capacities: Readonly<Capacities>): Array<{ provider: string; where: string }> {
  return [
    ...rules.flatMap((r) => (r.providers ?? []).map((provider) => ({ provider, where: `rule "${r.name}"` }))),
    ...Object.keys(capacities).map((provider) => ({ provider, where: 'providers' })),
  ];
}

/** The longest window decides how long buckets must live. */
export function longestWindow(rules: Rule[]): number {
  return rules.reduce((m, r) => Math.max(m, r.windowMinutes), 1);
}
