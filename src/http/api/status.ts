import type { Callguard } from '../../app/callguard.js';
import { isPausing, ruleOf } from '../../domain/hold.js';
import { holdView, iso } from './present.js';

/**
 * GET /health/service. The first six fields keep the original system's meaning (one pause, its
 * reason, who, when, which rule), taken from the oldest pausing hold; the rest show every cause.
 */
export async function serviceStatus(cg: Callguard) {
  const [holds, { now, counts }, clearSince, covered, events] = await Promise.all([
    cg.ledger.list(),
    cg.counters.sums(),
    cg.ledger.clearSince(),
    cg.ledger.coveredQueues(),
    cg.events.getJobCounts(),
  ]);
  const queues = await Promise.all(
    [...cg.dispatch].map(async ([name, q]) => {
      const [paused, jobCounts] = await Promise.all([q.isPaused(), q.getJobCounts()]);
      return [name, { paused, held: covered.has(name), counts: jobCounts }] as const;
    }),
  );
  // Shadow holds pause nothing and probe holds let calls through at a limited rate.
  const first = holds.find(isPausing);
  return {
    is_paused: first !== undefined,
    pause_reason: first?.reason ?? null,
    paused_by: first?.by ?? null,
    paused_at: iso(first?.since),
    source_rule: (first && ruleOf(first)) ?? null,
    rules: Object.fromEntries(
      cg.rules.map((r) => [
        r.name,
        {
          error_count: counts[r.name] ?? 0,
          threshold: r.thresholdCount,
          window_minutes: r.windowMinutes,
          queues: r.queues,
          clear_since: iso(clearSince[r.name]),
        },
      ]),
    ),
    holds: holds.map(holdView),
    queues: Object.fromEntries(queues),
    events_queue: { counts: events },
    auto_pause: cg.config.autoPause,
    now: iso(now),
  };
}
