import { randomBytes } from 'node:crypto';
import {
  DelayedError,
  ErrorCode,
  RateLimitError,
  UnrecoverableError,
  WaitingChildrenError,
  Worker,
  type Job,
  type WorkerOptions,
} from 'bullmq';
import { ConfigError } from '../domain/errors.js';
import { providerTarget } from '../domain/hold.js';
import { slowThresholds } from '../domain/outcomes.js';
import { candidatesProblem } from '../domain/rules.js';
import { loadRulesFile } from '../store/rules-file.js';
import type { Rule } from '../domain/types.js';
import { Keys } from '../store/keys.js';
import { GuardBatcher, MAX_ROUTES, forgetFailed, noteFailed } from '../store/guard.js';
import { ParkedJobs } from '../store/parked.js';
import type { RedisClient } from '../store/redis.js';
import { GuardVerdict, type GuardAnswer } from '../store/scripts.js';
import { loadClientConfig } from './config.js';
import { sharedReporter } from './shared.js';
import type { Reporter } from './reporter.js';

/** A dispatch job as the guarded worker hands it to the processor: with the provider it was given. */
export type GuardedJob<D = unknown, R = unknown> = Job<D, R> & {
  /**
   * The candidate the guard chose for this attempt (not held, room under its probe, throttle and
   * capacity); the call's outcome is recorded against it. Undefined for a job without candidates.
   */
  readonly provider: string | undefined;
};

/** BullMQ's processor, given the guarded job. A plain `Processor<D, R>` fits too. */
export type GuardedProcessor<D = unknown, R = unknown> = (job: GuardedJob<D, R>, token?: string, signal?: AbortSignal) => Promise<R>;

export interface GuardOptions<D = unknown, R = unknown> {
  /** callguard's prefix (CALLGUARD_PREFIX), where the holds live. */
  callguardPrefix?: string;
  /** How long a job put back waits before it is eligible again (it then waits while the queue is paused). */
  retryDelayMs?: number;
  /**
   * The provider a job calls (twilio, plivo …): the same as `providers` returning one name.
   */
  provider?: (job: Job<D, R>) => string | undefined;
  /**
   * The providers a job may call, most preferred first (at most 8). Each attempt runs on the first
   * one that is not held and has room (its probe, throttle and capacity), preferring those this
   * job's calls have not failed on yet; the processor reads it as `job.provider`. With every one
   * held or full the job is parked until any of them is released. Outcomes are recorded per
   * provider for callguard's rate rules.
   */
  providers?: (job: Job<D, R>) => readonly string[];
  /** Where outcomes go; default: the process-wide reporter (REDIS_URL, CALLGUARD_PREFIX …). */
  outcomes?: Pick<Reporter, 'outcome'>;
  /** The rules, for the slow_call_ms thresholds to measure; default: the CALLGUARD_RULES file. */
  rules?: Rule[];
  /** The longest a parked job waits before it is checked again, should its release be missed. */
  parkMs?: number;
}

// BullMQ's answers that the job is no longer ours: removed, our lock expired, it left the active
// state, or another worker holds it now (the stalled check gave it away while we waited on Redis).
const NOT_OURS = new Set<unknown>([ErrorCode.JobNotExist, ErrorCode.JobLockNotExist, ErrorCode.JobNotInState, ErrorCode.JobLockMismatch]);

/**
 * A BullMQ Worker for a dispatch queue that checks callguard's holds before each job.
 * - The queue is held: the job goes back (delayed, then waiting behind the pause) instead of
 *   being burned against a failing provider.
 * - The job's candidates: the first that is not held and has room under its probe, throttle and
 *   capacity (shared allowances on Redis' clock, across every worker) runs it — a failover when
 *   it is not the first. All held (or the rest full): the job is parked (delayed far ahead and
 *   noted in Redis under each held candidate) and the worker moves on; the release of any of them
 *   promotes the parked jobs, oldest first. None held but all full: it goes back until one has room.
 * - The check itself fails (Redis away, failing over, loading): the job goes back too; without an
 *   answer no provider is called, and the job is not failed for Redis' trouble.
 * With candidates, each call the processor makes is recorded against the chosen provider (a call,
 * a failure when it throws, slow when it took slow_call_ms or longer), coalesced in memory and
 * flushed like error reports; a failed call makes the job's retries prefer its other candidates.
 *
 * For Redis Cluster pass a cluster connection, e.g. `connection: connectRedis(loadClientConfig())`,
 * and a queue prefix with a hash tag.
 */
export function createGuardedWorker<D = unknown, R = unknown>(
  queueName: string,
  processor: GuardedProcessor<D, R>,
  options: WorkerOptions & GuardOptions<D, R>,
): Worker<D, R> {
  const {
    callguardPrefix = '{callguard}',
    retryDelayMs = 1000,
    provider,
    providers,
    outcomes,
    rules,
    parkMs = 300_000,
    ...workerOptions
  } = options;
  if (provider && providers) throw new ConfigError('createGuardedWorker: give provider or providers, not both');
  const keys = new Keys(callguardPrefix);
  const candidatesOf = providers ?? (provider ? (job: Job<D, R>) => [provider(job)].filter((p): p is string => !!p) : () => []);
  const slowMs = provider || providers ? slowThresholdsBy(rules ?? rulesFromEnv()) : () => [];
  // Candidate lists whose route this process has noted already (status and Slack show where calls go).
  const routes = new Set<string>();
  // Rate-log members: unique per attempt across workers, and short (each goes to Redis with its check).
  const memberPrefix = randomBytes(9).toString('base64url');
  let attempts = 0;

  const guarded = async (job: Job<D, R>, token?: string, signal?: AbortSignal): Promise<R> => {
    const candidates = [...candidatesOf(job)];
    const problem = candidatesProblem(candidates);
    if (problem) throw new UnrecoverableError(`callguard cannot guard job ${job.id}: ${problem}`);
    const route = candidates.join(',');
    let answer: GuardAnswer;
    try {
      answer = await guards.choose({
        queue: queueName,
        candidates,
        // Not BullMQ's lock token: the next job fetched after a job completes keeps it.
        member: `${memberPrefix}${(attempts++).toString(36)}`,
        jobId: job.id!,
        register: candidates.length > 1 && !routes.has(route),
      });
      // The script notes a route only past its queue check: a held queue's job leaves it for the next.
      if (answer.verdict !== GuardVerdict.QueueHeld) {
        if (routes.size >= MAX_ROUTES) routes.clear();
        routes.add(route);
      }
    } catch (err) {
      return putBack(job, token, retryDelayMs, `could not check callguard's holds: ${(err as Error).message}`);
    }
    if (answer.verdict === GuardVerdict.QueueHeld) return putBack(job, token, retryDelayMs, `held by callguard; ${queueName} is paused`);
    if (answer.verdict === GuardVerdict.ProviderHeld) {
      return park(
        job,
        token,
        answer.held.map((p) => providerTarget(queueName, p)),
      );
    }
    // Spread the waiters over the limit's period after the next free slot: a backlog behind a limit
    // of N per minute then costs each waiting job about one check a minute, not one per freed slot.
    if (answer.verdict === GuardVerdict.NoRoom) {
      return putBack(job, token, answer.waitMs + Math.random() * answer.periodMs, `${route} rate-limited by callguard`);
    }
    const chosen = answer.provider;
    const guardedJob = Object.assign(job, { provider: chosen }) as GuardedJob<D, R>;
    if (!chosen) return processor(guardedJob, token, signal);
    return measured(guardedJob, token, signal, chosen, candidates.length > 1);
  };

  async function measured(
    job: GuardedJob<D, R>,
    token: string | undefined,
    signal: AbortSignal | undefined,
    name: string,
    failover: boolean,
  ): Promise<R> {
    const started = performance.now();
    const record = (failed: boolean) => (outcomes ?? sharedReporter()).outcome(name, failed, performance.now() - started, slowMs(name));
    try {
      const result = await processor(job, token, signal);
      record(false);
      if (failover && job.attemptsMade > 0) await forgetFailed(await redis(), keys, queueName, job.id!).catch(() => undefined);
      return result;
    } catch (err) {
      // A processor that puts its own job back or waits for children made no failed call.
      if (!(err instanceof DelayedError || err instanceof WaitingChildrenError || err instanceof RateLimitError)) {
        record(true);
        // Its retry prefers the other candidates; without the note it still runs, in plain preference order.
        if (failover) await noteFailed(await redis(), keys, queueName, job.id!, name).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * Parks a job whose candidates are held: noted first under each held one, then moved to
   * delayed, so a release landing in between still finds it; if a release already landed, the
   * job promotes itself.
   */
  async function park(job: Job<D, R>, token: string | undefined, targets: string[]): Promise<never> {
    const client = await redis();
    const parked = new ParkedJobs(client, keys);
    try {
      await parked.park(targets, job.id!, job.timestamp);
    } catch (err) {
      return putBack(job, token, retryDelayMs, `could not park the job: ${(err as Error).message}`);
    }
    await moveToDelayed(job, token, parkMs);
    try {
      // Whether the queue is held does not matter: a promoted job waits behind the queue's pause,
      // while one left delayed is in no parked set (the release forgot it) and would wait out parkMs.
      const stillHeld = await client.hmget(keys.coveredProviders, ...targets);
      if (stillHeld.some((n) => n === null)) {
        // Due again after retryDelayMs, not at once: promoted now, another slot of this worker could
        // take it while this attempt still unwinds, and BullMQ's end of this attempt would then stop
        // renewing that slot's lock (it forgets locks by job id), so a long call would run twice.
        await job.changeDelay(retryDelayMs).catch(() => undefined); // promoted by the release already
        await parked.forget(targets, [job.id!]);
      }
    } catch {
      // Redis away: the release, the reconciler or parkMs brings it back
    }
    throw new DelayedError(`${targets.join(', ')} held by callguard; parked until one is released`);
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
        if (NOT_OURS.has((err as { code?: unknown }).code) || worker.closing) return;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
      }
    }
  }

  // BullMQ types its connection as its own interface; with ioredis as the peer dependency it is an ioredis client.
  const redis = async () => (await worker.backend.client) as unknown as RedisClient;

  const guards = new GuardBatcher(redis, keys);
  // BullMQ makes an AbortController for each job only if the processor takes a signal (3 parameters).
  const run = processor.length >= 3 ? guarded : (job: Job<D, R>, token?: string) => guarded(job, token);
  const worker = new Worker<D, R>(queueName, run, workerOptions);
  return worker;
}

/** Thresholds per provider, worked out once per provider. */
function slowThresholdsBy(rules: Rule[]): (provider: string) => number[] {
  const known = new Map<string, number[]>();
  return (provider) => {
    let ms = known.get(provider);
    if (!ms) {
      if (known.size >= MAX_ROUTES) known.clear();
      known.set(provider, (ms = slowThresholds(rules, provider)));
    }
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
