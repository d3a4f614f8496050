import { isPausing, ruleOf } from '../../domain/hold.js';
import { readsOutcomes, verdict } from '../../domain/outcomes.js';
import type { StatusSnapshot } from './ports.js';
import { holdView, iso, silenceView } from './present.js';
import type { ServiceStatusView } from './views.js';

/**
 * GET /health/service. The first five fields answer as if there were one pause (is it
 * paused, why, by whom, since when, which rule), from the oldest pausing hold, for readers that
 * know only one cause; the rest show every cause.
 */
export function serviceStatus(s: StatusSnapshot): ServiceStatusView {
  return { ...statusWithoutAge(s), snapshot_age_ms: Math.round(s.ageMs) };
}

// Readers within a snapshot's age share it (src/app/snapshot-cache.ts): its view is serialized once.
// Keyed by the snapshot's counts object, which each read of the snapshot makes afresh.
const serialized = new WeakMap<object, string>();

/** serviceStatus as JSON text: the shared view's text with this reader's age appended (the view's last field). */
export function serviceStatusJson(s: StatusSnapshot): string {
  let text = serialized.get(s.counts);
  if (text === undefined) serialized.set(s.counts, (text = JSON.stringify(statusWithoutAge(s)).slice(0, -1)));
  return `${text},"snapshot_age_ms":${Math.round(s.ageMs)}}`;
}

function statusWithoutAge(s: StatusSnapshot): Omit<ServiceStatusView, 'snapshot_age_ms'> {
  // Shadow holds pause nothing and probe holds let calls through at a limited rate.
  const first = s.holds.find(isPausing);
  return {
    is_paused: first !== undefined,
    pause_reason: first?.reason ?? null,
    paused_by: first?.by ?? null,
    paused_at: iso(first?.since),
    source_rule: (first && ruleOf(first)) ?? null,
    rules: Object.fromEntries(
      s.rules.map((r) => {
        const v = verdict(r, s.counts);
        return [
          r.name,
          {
            error_count: v.count,
            threshold: r.thresholdCount ?? null,
            window_minutes: r.windowMinutes,
            queues: r.queues,
            clear_since: iso(s.clearSince[r.name]),
            ...(r.providers ? { providers: r.providers } : {}),
            ...(readsOutcomes(r)
              ? {
                  ...(r.failureRate !== undefined ? { failure_rate: r.failureRate } : {}),
                  ...(r.slowCallRate !== undefined ? { slow_call_ms: r.slowCallMs, slow_call_rate: r.slowCallRate } : {}),
                  min_calls: r.minCalls,
                  calls: v.calls,
                  failed_calls: v.failures,
                  slow_calls: v.slow,
                }
              : {}),
          },
        ];
      }),
    ),
    holds: s.holds.map(holdView),
    failover: s.failover.map((r) => ({ queue: r.queue, provider: r.provider, goes_to: r.to, failed_over: r.failedOver })),
    queues: s.queues,
    events_queue: { counts: s.eventCounts },
    auto_pause: s.autoPause,
    silences: s.silences.filter((x) => x.until > s.now).map(silenceView),
    rules_version: s.rulesVersion,
    now: iso(s.now),
  };
}
