/** Domain objects → API shapes: snake_case fields, ISO timestamps, no internal-only fields. */
import type { AuditEntry } from '../../store/holds.js';
import type { Hold } from '../../domain/types.js';
import type { AuditEntryView, HoldView } from './views.js';

export const iso = (ms: number | undefined): string | null =>
  ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();

export function holdView(h: Hold): HoldView {
  return {
    id: h.id,
    kind: h.kind,
    effect: h.effect ?? 'pause',
    scope: h.scope,
    by: h.by,
    reason: h.reason,
    since: iso(h.since),
    until: iso(h.until),
    rule: h.rule ?? null,
    ...(h.maxPerMinute !== undefined ? { max_per_minute: h.maxPerMinute } : {}),
    ...(h.alertName !== undefined ? { alert_name: h.alertName } : {}),
    ...(h.source !== undefined ? { source: h.source } : {}),
    ...(h.count !== undefined ? { count: h.count } : {}),
    ...(h.threshold !== undefined ? { threshold: h.threshold } : {}),
    ...(h.windowMinutes !== undefined ? { window_minutes: h.windowMinutes } : {}),
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
  };
}
