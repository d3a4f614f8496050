/** Domain objects → API shapes: snake_case fields, ISO timestamps, no internal-only fields. */
import type { AuditEntry } from '../../store/holds.js';
import type { RulesChange, RulesVersion } from '../../domain/rules-doc.js';
import { effectOf, ruleOf, type Hold } from '../../domain/hold.js';
import type { AuditEntryView, HoldView, SilenceView } from './views.js';
import type { Silence } from '../../domain/silence.js';
import type { DryRunResult } from '../../engine/dry-run.js';
import type { ReplayEvent } from '../../domain/replay.js';

export const iso = (ms: number | undefined): string | null =>
  ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();

export function holdView(h: Hold): HoldView {
  const rule = h.kind === 'rule' ? h : undefined;
  const alert = h.kind === 'alert' ? h : undefined;
  return {
    id: h.id,
    kind: h.kind,
    effect: effectOf(h),
    scope: h.scope,
    ...(h.providers?.length ? { providers: h.providers } : {}),
    by: h.by,
    reason: h.reason,
    since: iso(h.since),
    until: iso(h.until),
    rule: ruleOf(h) ?? null,
    ...(rule?.maxPerMinute !== undefined ? { max_per_minute: rule.maxPerMinute } : {}),
    ...(alert?.alertName !== undefined ? { alert_name: alert.alertName } : {}),
    ...(alert?.source !== undefined ? { source: alert.source } : {}),
    ...(rule?.count !== undefined ? { count: rule.count } : {}),
    ...(rule?.threshold !== undefined ? { threshold: rule.threshold } : {}),
    ...(rule?.calls !== undefined ? { calls: rule.calls, failures: rule.failures ?? 0, slow: rule.slow ?? 0 } : {}),
    ...(rule?.windowMinutes !== undefined ? { window_minutes: rule.windowMinutes } : {}),
  };
}

function isHold(v: unknown): v is Hold {
  return typeof v === 'object' && v !== null && typeof (v as Hold).id === 'string' && typeof (v as Hold).kind === 'string';
}

export function auditEntryView(e: AuditEntry): AuditEntryView {
  return {
    id: e.id,
    event: e.event,
    hold: e.hold || null,
    kind: e.kind || null,
    by: e.by,
    reason: e.reason,
    paused: e.paused,
    resumed: e.resumed,
    at: iso(e.at),
    detail: isHold(e.data) ? holdView(e.data) : null,
    ...(e.rules ? { rules_version: e.rules } : {}),
    ...(e.event === 'rules-published' && Array.isArray((e.data as { changes?: unknown })?.changes)
      ? { changes: (e.data as { changes: RulesChange[] }).changes }
      : {}),
  };
}

export function rulesVersionView(v: RulesVersion) {
  return { version: v.version, hash: v.hash, by: v.by, source: v.source, at: iso(v.at) };
}

export function silenceView(s: Silence): SilenceView {
  return {
    id: s.id,
    rules: s.rules,
    ...(s.providers ? { providers: s.providers } : {}),
    ...(s.queues ? { queues: s.queues } : {}),
    until: iso(s.until),
    reason: s.reason,
    by: s.by,
    since: iso(s.since),
  };
}

export function dryRunView(d: DryRunResult) {
  const at = (minute: number) => iso(minute * d.replay.minuteMs);
  const events = (list: ReplayEvent[]) => list.map((e) => ({ event: e.event, effect: e.effect, at: at(e.minute), reason: e.reason }));
  return {
    now: d.now,
    replay: {
      from: at(d.replay.from),
      to: at(d.replay.to),
      minute_ms: d.replay.minuteMs,
      rules: Object.fromEntries(
        Object.entries(d.replay.rules).map(([name, r]) => [
          name,
          { replayable: r.replayable, ...(r.reason ? { reason: r.reason } : {}), proposed: events(r.proposed), actual: events(r.actual) },
        ]),
      ),
    },
  };
}
