/** The Redis side of GET /health/service's snapshot, read on whichever thread has the spare event loop. */
import type { StatusSnapshot } from '../http/api/ports.js';
import { heldRoutes } from '../store/guard.js';
import type { Callguard } from './callguard.js';

/** What a status read fetches from Redis; the rules and settings are the reading thread's own. */
export type StatusRead = Pick<
  StatusSnapshot,
  'holds' | 'counts' | 'clearSince' | 'queues' | 'eventCounts' | 'silences' | 'failover' | 'now'
>;

export async function readStatus(cg: Callguard): Promise<StatusRead> {
  const [holds, { now, counts }, clearSince, covered, eventCounts, silences, failover] = await Promise.all([
    cg.ledger.list(),
    cg.counters.sums(),
    cg.ledger.clearSince(),
    cg.ledger.coveredQueues(),
    cg.events.getJobCounts(),
    cg.silencer.list(),
    heldRoutes(cg.redis, cg.keys),
  ]);
  const queues = await Promise.all(
    [...cg.dispatch].map(async ([name, q]) => {
      const [paused, jobCounts] = await Promise.all([q.isPaused(), q.getJobCounts()]);
      return [name, { paused, held: covered.has(name), counts: jobCounts }] as const;
    }),
  );
  return { holds, counts, clearSince, queues: Object.fromEntries(queues), eventCounts, silences, failover, now };
}
