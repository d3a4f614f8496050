/**
 * Replays rules over kept per-minute counts with decide() itself, minute by minute, applying its
 * decisions to a simulated ledger as the hold-change script would. Pure.
 */
import { decide, type AutoPause } from './decide.js';
import { effectOf, type Hold, type HoldEffect } from './hold.js';
import { countersOf } from './outcomes.js';
import type { Rule } from './types.js';

export interface ReplayEvent {
  /** A hold of the rule was placed or released. */
  event: 'placed' | 'released';
  effect: HoldEffect;
  /** The minute number (ms / minuteMs) it happened in. */
  minute: number;
  reason: string;
}

export interface ReplayInput {
  rules: Rule[];
  /** Per counter (a rule's name, or its outcome counters), counts per minute from `from`, oldest first. */
  series: Record<string, number[]>;
  /** The first minute of `series`. */
  from: number;
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: AutoPause;
}

/** Window sums of every counter of `rules` at minute index `k` of the series. */
export function windowCounts(rules: Rule[], series: Record<string, number[]>, k: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of countersOf(rules)) {
    const s = series[c.name] ?? [];
    let sum = 0;
    for (let i = Math.max(0, k - c.windowMinutes + 1); i <= k; i++) sum += s[i] ?? 0;
    counts[c.name] = sum;
  }
  return counts;
}

/**
 * Each rule's placed and released holds, had `rules` been in force over the series from an empty
 * ledger. Evaluated at the end of each minute (its whole bucket counted), as the evaluator does at
 * each tick; a live trip right after counting happens within the same minute.
 */
export function replay(input: ReplayInput): Record<string, ReplayEvent[]> {
  const { rules, series, from, minuteMs } = input;
  const length = Math.max(0, ...Object.values(series).map((s) => s.length));
  const holds = new Map<string, Hold>();
  const clearSince: Record<string, number> = {};
  const events: Record<string, ReplayEvent[]> = Object.fromEntries(rules.map((r) => [r.name, []]));
  const log = (hold: Hold, event: ReplayEvent['event'], minute: number, reason: string) => {
    if (hold.kind === 'rule') events[hold.rule]?.push({ event, effect: effectOf(hold), minute, reason });
  };
  for (let k = 0; k < length; k++) {
    const minute = from + k;
    const now = (minute + 1) * minuteMs - 1;
    const d = decide({
      rules,
      counts: windowCounts(rules, series, k),
      holds: [...holds.values()],
      clearSince,
      now,
      minuteMs,
      autoResumeMinutes: input.autoResumeMinutes,
      autoPause: input.autoPause,
      full: true,
    });
    // In the order change-holds-10.lua applies them.
    for (const r of d.startClear) clearSince[r] ??= now;
    for (const r of d.release) {
      const hold = holds.get(r.id);
      if (!hold || (r.ifClear !== undefined && clearSince[r.ifClear] === undefined)) continue;
      holds.delete(r.id);
      log(hold, 'released', minute, r.reason);
    }
    for (const h of d.add) {
      if (holds.has(h.id)) continue;
      const hold = { ...h, since: now };
      holds.set(h.id, hold);
      log(hold, 'placed', minute, h.reason);
    }
    for (const r of d.stopClear) delete clearSince[r];
  }
  return events;
}
