/** Silences: rules muted until a time. Counting and evaluation go on; no hold is placed for a silenced rule. Pure. */
import type { Rule } from './types.js';

/** Silences kept at once: each is checked against every rule on each evaluation. */
export const MAX_SILENCES = 100;

export interface Silence {
  id: string;
  /** Rules silenced by name. */
  rules: string[];
  /** Every rule reading one of these providers. */
  providers?: string[];
  /** Every rule pausing one of these dispatch queues (a rule over all queues pauses each). */
  queues?: string[];
  /** ms, Redis clock: the silence ends then. */
  until: number;
  reason: string;
  /** The principal that placed it. */
  by: string;
  /** ms, Redis clock. */
  since: number;
}

/** The silence covering `rule` at `now`, if any (the one ending last). */
export function silenceOf(rule: Rule, silences: readonly Silence[], now: number): Silence | undefined {
  let found: Silence | undefined;
  for (const s of silences) {
    if (s.until <= now) continue;
    const covers =
      s.rules.includes(rule.name) ||
      (s.providers?.some((p) => rule.providers?.includes(p)) ?? false) ||
      (s.queues?.length ? rule.queues === 'all' || s.queues.some((q) => rule.queues.includes(q)) : false);
    if (covers && (!found || s.until > found.until)) found = s;
  }
  return found;
}
