import { PROVIDER_NAME } from '../domain/rules.js';
import { providerTarget } from '../domain/hold.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { guard, type GuardAnswer } from './scripts.js';

/** The most candidate providers one job may list: the guard's step is bounded by it. */
export const MAX_CANDIDATES = 8;

export interface GuardRequest {
  queue: string;
  /** Most preferred first; distinct provider names, at most MAX_CANDIDATES. */
  candidates: string[];
  /** Unique to this attempt (the entry it takes in the rate logs). */
  member: string;
  /** With a job id, candidates its calls failed on (see Keys.tried) come last. */
  jobId?: string;
  /** Note the candidates after the first as the first one's route (status and Slack show it). */
  register?: boolean;
}

/** Why a candidate list cannot be checked, or undefined when it can. */
export function candidatesProblem(candidates: readonly string[]): string | undefined {
  if (candidates.length > MAX_CANDIDATES) return `at most ${MAX_CANDIDATES} candidate providers per job, got ${candidates.length}`;
  const bad = candidates.find((p) => typeof p !== 'string' || !PROVIDER_NAME.test(p));
  if (bad !== undefined) return `provider name ${JSON.stringify(bad)} must match ${PROVIDER_NAME}`;
  if (new Set(candidates).size !== candidates.length) return `candidate providers must be distinct: ${candidates.join(', ')}`;
  return undefined;
}

/** One call: is the queue held, and which candidate runs (its slot taken), or why none does. */
export async function chooseCandidate(redis: RedisClient, keys: Keys, req: GuardRequest): Promise<GuardAnswer> {
  const { queue, candidates } = req;
  const problem = candidatesProblem(candidates);
  if (problem) throw new TypeError(problem);
  return guard(
    redis,
    {
      covered: keys.covered,
      coveredProviders: keys.coveredProviders,
      providerLimits: keys.providerLimits,
      capacities: keys.capacities,
      failovers: keys.failovers,
      tried: keys.tried(queue, req.jobId ?? ''),
    },
    candidates.flatMap((p) => [keys.rateLog(providerTarget(queue, p)), keys.capacityLog(p)]),
    { queue, member: req.member, register: req.register ?? false, candidates },
  );
}

/** Notes that a job's call failed on `provider`, so its retries prefer the job's other candidates. */
export async function noteFailed(redis: RedisClient, keys: Keys, queue: string, jobId: string, provider: string): Promise<void> {
  await redis.multi().sadd(keys.tried(queue, jobId), provider).pexpire(keys.tried(queue, jobId), 86_400_000).exec();
}

/** Forgets a finished job's failed providers. */
export async function forgetFailed(redis: RedisClient, keys: Keys, queue: string, jobId: string): Promise<void> {
  await redis.del(keys.tried(queue, jobId));
}

/**
 * Replaces the capacities the guard enforces with the rules file's (`providers`), per second.
 * Every instance writes the same at start; a provider no longer listed loses its capacity.
 */
export async function writeCapacities(redis: RedisClient, keys: Keys, capacities: Record<string, number>): Promise<void> {
  const multi = redis.multi().del(keys.capacities);
  const fields: Record<string, string> = {};
  for (const [p, n] of Object.entries(capacities)) fields[p] = `${n}/1000`;
  if (Object.keys(fields).length) multi.hset(keys.capacities, fields);
  await multi.exec();
}
