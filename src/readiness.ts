import { JOB } from './ingest/jobs.js';
import type { Callguard } from './service.js';

export interface Readiness {
  ready: boolean;
  checks: { redis: boolean; evaluator: boolean };
}

// A readiness probe must answer fast even while Redis hangs.
const CHECK_TIMEOUT_MS = 1000;

/** Redis answers, and the evaluator schedule exists with its next run not overdue. */
export async function readiness(cg: Pick<Callguard, 'redis' | 'events' | 'config'>): Promise<Readiness> {
  const redis = await within(cg.redis.ping().then((r) => r === 'PONG'));
  const evaluator = redis && (await within(schedulerOnTime(cg)));
  return { ready: redis && evaluator, checks: { redis, evaluator } };
}

async function schedulerOnTime(cg: Pick<Callguard, 'redis' | 'events' | 'config'>): Promise<boolean> {
  const scheduler = await cg.events.getJobScheduler(JOB.evaluate);
  if (!scheduler?.next) return false;
  const [s, us] = await cg.redis.time();
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  // Two periods of slack: one run may be in flight while the next is being scheduled.
  return now - scheduler.next <= 2 * cg.config.minuteMs;
}

async function within(check: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
