import { decide, type AutoPause } from '../domain/decide.js';
import { ruleHoldId } from '../domain/hold.js';
import { countersOf } from '../domain/outcomes.js';
import { replay, windowCounts, type ReplayEvent } from '../domain/replay.js';
import type { Silence } from '../domain/silence.js';
import type { Rule } from '../domain/types.js';
import type { History } from '../store/history.js';
import { HISTORY_MINUTES } from '../store/history.js';
import type { AuditEntry, HoldLedger } from '../store/holds.js';

export interface DryRunDeps {
  history: History;
  ledger: Pick<HoldLedger, 'list' | 'clearSince' | 'audit'>;
  silences: { list(): Promise<Silence[]> };
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: AutoPause;
}

export interface RuleReplay {
  /** False when the kept counts cannot say what this rule would have done (see reason). */
  replayable: boolean;
  reason?: string;
  /** What the proposed rule would have done over the kept minutes. */
  proposed: ReplayEvent[];
  /** What the rules in force actually did (the audit's rule-hold changes in the same minutes). */
  actual: ReplayEvent[];
}

export interface DryRunResult {
  now: { tripped: string[]; place: string[]; release: string[] };
  replay: { from: number; to: number; minuteMs: number; rules: Record<string, RuleReplay> };
}

// Audit entries read for "what actually happened": far more than a day of rule-hold changes.
const AUDIT_READ = 5000;
const PLACED = new Set(['hold-added', 'would-pause', 'probe-started', 'throttle-started']);
const RELEASED = new Set(['hold-released', 'would-resume', 'probe-ended', 'throttle-ended']);

/** Why a proposed rule cannot be replayed on counts kept under the active rule of that name. */
function notReplayable(proposed: Rule, active: Rule | undefined): string | undefined {
  if (!active) return undefined;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same([...proposed.logPatterns].sort(), [...active.logPatterns].sort()) || proposed.minLevel !== active.minLevel) {
    return 'log_patterns or min_level changed: the matched log lines are not kept, so the counts would differ';
  }
  if (!same(proposed.providers, active.providers) && (proposed.failureRate !== undefined || proposed.slowCallRate !== undefined)) {
    return 'providers changed: call outcomes were counted for the old providers';
  }
  if (proposed.slowCallMs !== active.slowCallMs && proposed.slowCallRate !== undefined) {
    return 'slow_call_ms changed: slow calls were counted against the old limit';
  }
  return undefined;
}

/**
 * (a) what the proposal would change now (decide() on the current counts, holds and clocks), and
 * (b) a replay over the kept minutes beside what the active rules actually did.
 */
export async function dryRun(deps: DryRunDeps, proposed: Rule[], active: readonly Rule[]): Promise<DryRunResult> {
  const now = await deps.history.now();
  const to = Math.floor(now / deps.minuteMs);
  const from = to - HISTORY_MINUTES + 1;
  const counters = [...new Set(countersOf(proposed).map((c) => c.name))];
  const [series, holds, clearSince, silences, audit] = await Promise.all([
    deps.history.read(counters, from, to),
    deps.ledger.list(),
    deps.ledger.clearSince(),
    deps.silences.list(),
    deps.ledger.audit(AUDIT_READ),
  ]);
  const settings = { minuteMs: deps.minuteMs, autoResumeMinutes: deps.autoResumeMinutes, autoPause: deps.autoPause };
  const decision = decide({
    rules: proposed,
    counts: windowCounts(proposed, series, to - from),
    holds,
    clearSince,
    now,
    full: true,
    silences,
    ...settings,
  });
  const held = new Set(holds.map((h) => h.id));
  const tripped = proposed.filter(
    (r) =>
      decision.add.some((h) => h.id === ruleHoldId(r.name)) ||
      (held.has(ruleHoldId(r.name)) && !decision.release.some((x) => x.id === ruleHoldId(r.name))),
  );

  const activeByName = new Map(active.map((r) => [r.name, r]));
  const replayable = proposed.filter((r) => !notReplayable(r, activeByName.get(r.name)));
  const events = replay({ rules: replayable, series, from, ...settings });
  const rules: Record<string, RuleReplay> = {};
  for (const r of proposed) {
    const why = notReplayable(r, activeByName.get(r.name));
    rules[r.name] = {
      replayable: why === undefined,
      ...(why
        ? { reason: why }
        : activeByName.has(r.name)
          ? {}
          : { reason: 'a new rule: no counts were kept under this name, so it replays as silent' }),
      proposed: events[r.name] ?? [],
      actual: actualEvents(audit, r.name, from, deps.minuteMs),
    };
  }
  return {
    now: { tripped: tripped.map((r) => r.name), place: decision.add.map((h) => h.id), release: decision.release.map((r) => r.id) },
    replay: { from, to, minuteMs: deps.minuteMs, rules },
  };
}

function actualEvents(audit: AuditEntry[], rule: string, from: number, minuteMs: number): ReplayEvent[] {
  const id = ruleHoldId(rule);
  return audit
    .filter((e) => e.hold === id && (PLACED.has(e.event) || RELEASED.has(e.event)) && Math.floor(e.at / minuteMs) >= from)
    .reverse()
    .map((e) => ({
      event: PLACED.has(e.event) ? ('placed' as const) : ('released' as const),
      effect: (e.data as { effect?: ReplayEvent['effect'] } | undefined)?.effect ?? 'pause',
      minute: Math.floor(e.at / minuteMs),
      reason: e.reason,
    }));
}
