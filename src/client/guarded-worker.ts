import { randomUUID } from 'node:crypto';
import { DelayedError, RateLimitError, WaitingChildrenError, Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import { ConfigError } from '../domain/errors.js';
import { providerTarget } from '../domain/hold.js';
import { slowThresholds } from '../domain/outcomes.js';
import { loadRulesFile } from '../domain/rules.js';
import type { Rule } from '../domain/types.js';
import { Keys } from '../store/keys.js';
import { ParkedJobs } from '../store/parked.js';
import type { RedisClient } from '../store/redis.js';
import { guard, GuardVerdict, type GuardAnswer } from '../store/scripts.js';
import { loadClientConfig } from './config.js';
import { sharedReporter } from './shared.js';
import type { Reporter } from './reporter.js';

export interface GuardOptions<D = unknown, R = unknown> {
  /** callguard's prefix (CALLGUARD_PREFIX), where the holds live. */
  callguardPrefix?: string;
  /** How long a job put back waits before it is eligible again (it then waits while the queue is paused). */
  retryDelayMs?: number;
  /**
   * The provider a job calls (twilio, plivo …). Given, the worker records each call's outcome
   * for callguard's rate rules and holds back the jobs of providers that are held.
   */
  provider?: (job: Job<D, R>) => string | undefined;
  /** Where outcomes go; default: the process-wide reporter (REDIS_URL, CALLGUARD_PREFIX …). */
  outcomes?: Pick<Reporter, 'outcome'>;
  /** The rules, for the slow_call_ms thresholds to measure; default: the CALLGUARD_RULES file. */
  rules?: Rule[];
  /** The longest a parked job waits before it is checked again, should its release be missed. */
  parkMs?: number;
}

// The job is no longer ours (our lock expired and another worker took it, or it was removed).
const LOCK_LOST = /Missing (lock|key) for job/;

/**
 * A BullMQ Worker for a dispatch queue that checks callguard's holds before each job.
 * - The queue is held: the job goes back (delayed, then waiting behind the pause) instead of
 *   being burned against a failing provider.
 * - The job's provider is held: the job is parked (delayed far ahead and noted in Redis) and the
 *   worker moves on to other providers' jobs; the release promotes the parked jobs, oldest first.
 * - The provider runs under a probe or throttle: the job runs only if the shared per-minute
 *   allowance has room, else it goes back until there is.
 * - The check itself fails (Redis away, failing over, loading): the job goes back too; without an
 *   answer the provider is not called, and the job is not failed for Redis' trouble.
 * With `provider`, each call the processor makes is recorded (a call, a failure when it throws,
 * slow when it took slow_call_ms or longer), coalesced in memory and flushed like error reports.
 *
 * For Redis Cluster pass a cluster connection, e.g. `connection: connectRedis(loadClientConfig())`,
 * and a queue prefix with a hash tag.
 */
export function createGuardedWorker<D = unknown, R = unknown>(
  queueName: string,
  processor: Processor<D, R>,
  options: WorkerOptions & GuardOptions<D, R>,
): Worker<D, R> {
  const { callguardPrefix = '{callguard}', retryDelayMs = 1000, provider, outcomes, rules, parkMs = 300_000, ...workerOptions } = options;
  const keys = new Keys(callguardPrefix);
  const slowMs = provider ? slowThresholdsBy(rules ?? rulesFromEnv()) : () => [];

  const guarded: Processor<D, R> = async (job: Job<D, R>, token?: string) => {
    const name = provider?.(job);
    const target = name ? providerTarget(queueName, name) : '';
    let answer: GuardAnswer;
    try {
      answer = await guard(
        await redis(),
        {
          covered: keys.covered,
          coveredProviders: keys.coveredProviders,
          providerLimits: keys.providerLimits,
          rateLog: keys.rateLog(target),
        },
        { queue: queueName, target, member: `${job.id}:${randomUUID()}` },
      );
    } catch (err) {
      return putBack(job, token, retryDelayMs, `could not check callguard's holds: ${(err as Error).message}`);
    }
    const { verdict, waitMs, minuteMs } = answer;
    if (verdict === GuardVerdict.QueueHeld) return putBack(job, token, retryDelayMs, `held by callguard; ${queueName} is paused`);
    if (verdict === GuardVerdict.ProviderHeld) return park(job, token, target);
    // Spread the waiters over a minute after the next free slot: a backlog behind a limit of N per
    // minute then costs each waiting job about one check a minute, not one per freed slot.
    if (verdict === GuardVerdict.NoRoom) {
      return putBack(job, token, waitMs + Math.random() * (minuteMs ?? waitMs), `${name} is rate-limited by callguard`);
    }
    if (verdict !== GuardVerdict.Run || !name) return processor(job, token);
    return measured(job, token, name);
  };

  async function measured(job: Job<D, R>, token: string | undefined, name: string): Promise<R> {
    const started = performance.now();
    const record = (failed: boolean) => (outcomes ?? sharedReporter()).outcome(name, failed, performance.now() - started, slowMs(name));
    try {
      const result = await processor(job, token);
      record(false);
      return result;
    } catch (err) {
      // A processor that puts its own job back or waits for children made no failed call.
      if (!(err instanceof DelayedError || err instanceof WaitingChildrenError || err instanceof RateLimitError)) record(true);
      throw err;
    }
  }

  /**
   * Parks a held provider's job: noted first, then moved to delayed, so a release landing in
   * between still finds it; if the release already landed, the job promotes itself.
   */
  async function park(job: Job<D, R>, token: string | undefined, target: string): Promise<never> {
    const client = await redis();
    const parked = new ParkedJobs(client, keys);
    try {
      await parked.park(target, job.id!, job.timestamp);
    } catch (err) {
      return putBack(job, token, retryDelayMs, `could not park the job: ${(err as Error).message}`);
    }
    await moveToDelayed(job, token, parkMs);
    try {
      // Whether the queue is held does not matter: a promoted job waits behind the queue's pause,
      // while one left delayed is in no parked set (the release forgot it) and would wait out parkMs.
      if ((await client.hexists(keys.coveredProviders, target)) === 0) {
        await job.promote().catch(() => undefined); // promoted by the release already
        await parked.forget(target, [job.id!]);
      }
    } catch {
      // Redis away: the release, the reconciler or parkMs brings it back
    }
    throw new DelayedError(`${target} is held by callguard; parked until released`);
  }

  /** Moves the job to delayed and ends this attempt without failing it (see moveToDelayed). */
  async function putBack(job: Job<D, R>, token: string | undefined, delayMs: number, why: string): Promise<never> {
    await moveToDelayed(job, token, delayMs);
    throw new DelayedError(why);
  }

  /**
   * Keeps trying while Redis is away; stops when the job is no longer ours or the worker closes
   * (BullMQ's stalled-job check then returns it to waiting).
   */
  async function moveToDelayed(job: Job<D, R>, token: string | undefined, delayMs: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await job.moveToDelayed(Date.now() + Math.round(delayMs), token);
        return;
      } catch (err) {
        if (LOCK_LOST.test((err as Error).message) || worker.closing) return;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
      }
    }
  }

  // BullMQ types its connection as its own interface; with ioredis as the peer dependency it is an ioredis client.
  const redis = async () => (await worker.backend.client) as unknown as RedisClient;

  const worker = new Worker<D, R>(queueName, guarded, workerOptions);
  return worker;
}

/** Thresholds per provider, worked out once per provider. */
function slowThresholdsBy(rules: Rule[]): (provider: string) => number[] {
  const known = new Map<string, number[]>();
  return (provider) => {
    let ms = known.get(provider);
    if (!ms) known.set(provider, (ms = slowThresholds(rules, provider)));
    return ms;
  };
}

function rulesFromEnv(): Rule[] {
  const env = loadClientConfig();
  try {
    return loadRulesFile(env.rulesPath, env.queues).rules;
  } catch (err) {
    throw new ConfigError(
      `createGuardedWorker with provider needs the rules (for slow_call_ms): pass rules, or set CALLGUARD_RULES (${(err as Error).message})`,
    );
  }
}
