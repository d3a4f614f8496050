import type { DecideInput } from '../../src/domain/decide.js';
import type { Rule } from '../../src/domain/types.js';

/** decide()'s input for a table case: a one-minute minute, a 5-minute resume delay, auto-pause on, a full tick. */
export function decideInput(rules: Rule[], now: number, over: Partial<DecideInput>): DecideInput {
  return {
    rules,
    counts: {},
    holds: [],
    clearSince: {},
    now,
    minuteMs: 60_000,
    autoResumeMinutes: 5,
    autoPause: 'on',
    full: true,
    ...over,
  };
}
