import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { RedisUnavailableError } from '../domain/errors.js';
import { withTimeout } from '../domain/timeout.js';
import type { Counters } from '../store/counters.js';
import { JOB } from './contract.js';

// Under the HTTP layer's 1 s answer: the add, then (if need be) its cancellation, fit inside it.
const ADD_BUDGET_MS = 700;
const CANCEL_BUDGET_MS = 200;

/**
 * Adds one `error-report` job for a request that waits for the answer (HTTP ingest), and never
 * answers "unavailable" for a report that then gets counted: when Redis does not confirm the add
 * in time, the report's id is cancelled (cancel-report-1.lua). The cancel is sent on the same
 * connection behind the add, so however late the add lands, its job adds nothing; if the job was
 * counted before the cancel ran, the report is confirmed after all.
 */
export async function enqueueReport(
  deps: { events: Queue; counters: Counters; redisHealth?: { available(): boolean } },
  counts: Record<string, number>,
  /** How long the requests have waited already (a batch behind one in flight): it comes off the add's budget. */
  waitedMs = 0,
): Promise<string> {
  // A batch that waited behind one Redis did not confirm is not sent into the same hang.
  if (deps.redisHealth && !deps.redisHealth.available()) throw new RedisUnavailableError();
  // Its requests are answered within their own deadline: a batch that waited past the add's budget
  // is not sent at all, so it can never land after they were answered 503.
  const budget = ADD_BUDGET_MS - waitedMs;
  if (budget <= 0) throw new RedisUnavailableError('Redis was too slow to take the report; it was not counted. Retry later.');
  const jobId = randomUUID();
  const add = deps.events.add(JOB.errorReport, { counts }, { jobId });
  const landed = await withTimeout(
    add.then(
      () => true,
      () => false,
    ),
    budget,
    () => false,
  );
  if (landed) return jobId;
  const cancel = deps.counters.cancelReport(`job:${jobId}`);
  const outcome = await withTimeout(
    cancel.then(
      (c) => (c ? 'cancelled' : 'counted'),
      () => 'unknown',
    ),
    CANCEL_BUDGET_MS,
    () => 'unknown',
  );
  if (outcome === 'counted') return jobId;
  throw new RedisUnavailableError('Redis did not confirm the report in time; it was not counted. Retry later.');
}
