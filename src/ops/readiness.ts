import type { Queue } from 'bullmq';
import { JOB } from '../jobs/contract.js';
import { withTimeout } from '../domain/timeout.js';

export interface Readiness {
  ready: boolean;
  checks: { redis: boolean; evaluator: boolean };
  /** The rules version in force here; file_differs: this instance's rules file is not it (it follows the active one). */
  rules?: { version: number; source: 'file' | 'redis'; file_differs: boolean };
}

// A readiness probe must answer fast even while Redis hangs.
const CHECK_TIMEOUT_MS = 1000;

/** Redis answers, and the evaluator schedule exists with its next run not overdue. */
/** What readiness reads: Redis, the events queue's schedule, the minute and Redis' clock. */
export interface ReadinessDeps {
  redis: { ping(): Promise<string> };
  events: Pick<Queue, 'getJobScheduler'>;
  config: { minuteMs: number };
  ledger: { now(): Promise<number> };
  liveRules?: { readonly version: number; readonly mode: 'file' | 'redis'; readonly fileDiffers: boolean };
}

export async function readiness(cg: ReadinessDeps): Promise<Readiness> {
  const redis = await within(cg.redis.ping().then((r) => r === 'PONG'));
  const evaluator = redis && (await within(schedulerOnTime(cg)));
  const live = cg.liveRules;
  // A detail, not a check: an instance following a newer version than its file is working as designed.
  const rules = live ? { rules: { version: live.version, source: live.mode, file_differs: live.fileDiffers } } : {};
  return { ready: redis && evaluator, checks: { redis, evaluator }, ...rules };
}

async function schedulerOnTime(cg: Omit<ReadinessDeps, 'redis'>): Promise<boolean> {
  const scheduler = await cg.events.getJobScheduler(JOB.evaluate);
  if (!scheduler?.next) return false;
  const now = await cg.ledger.now();
  // Two periods of slack: one run may be in flight while the next is being scheduled.
  return now - scheduler.next <= 2 * cg.config.minuteMs;
}

function within(check: Promise<boolean>): Promise<boolean> {
  return withTimeout(
    check.catch(() => false),
    CHECK_TIMEOUT_MS,
    () => false,
  );
}
