import { candidatesProblem } from '../domain/rules.js';
import { parseTarget, providerTarget } from '../domain/hold.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { GUARD, GUARD_BATCH_MAX, guard, type GuardAnswer, type GuardJob, type GuardRoute, type KeysOf } from './scripts.js';

/** Routes a worker remembers; past this many (jobs naming candidates from their data) it starts over. */
export const MAX_ROUTES = 1000;

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

function guardKeys(keys: Keys): KeysOf<typeof GUARD> {
  return {
    covered: keys.covered,
    coveredProviders: keys.coveredProviders,
    providerLimits: keys.providerLimits,
    capacities: keys.capacities,
    failovers: keys.failovers,
  };
}

/** A route's keys, its candidates checked first (a bad list throws TypeError). */
function guardRoute(keys: Keys, queue: string, candidates: readonly string[]): GuardRoute {
  const problem = candidatesProblem(candidates);
  if (problem) throw new TypeError(problem);
  return {
    queue,
    candidates: [...candidates],
    keys: candidates.flatMap((p) => [keys.rateLog(providerTarget(queue, p)), keys.capacityLog(p)]),
  };
}

function guardJob(keys: Keys, route: GuardRoute, req: GuardRequest): GuardJob {
  return {
    route,
    member: req.member,
    ...(route.candidates.length > 1 ? { tried: keys.tried(req.queue, req.jobId ?? '') } : {}),
    register: req.register ?? false,
  };
}

/** One call: is the queue held, and which candidate runs (its slot taken), or why none does. */
export async function chooseCandidate(redis: RedisClient, keys: Keys, req: GuardRequest): Promise<GuardAnswer> {
  const [answer] = await guard(redis, guardKeys(keys), [guardJob(keys, guardRoute(keys, req.queue, req.candidates), req)]);
  return answer!;
}

/**
 * chooseCandidate for a worker: the jobs it asks about in one turn of the event loop (the jobs
 * one Redis reply handed it) go in one guard call, so a busy worker pays one round trip and one
 * script call per turn instead of one per job. Each job is still checked in Redis at the moment
 * of that call, so a hold committed before it is seen, exactly as alone.
 */
export class GuardBatcher {
  private pending: Array<{ job: GuardJob; resolve: (a: GuardAnswer) => void; reject: (e: unknown) => void }> = [];
  private readonly named: KeysOf<typeof GUARD>;
  // The routes asked about, each made (and its candidates checked) once: a worker's jobs share a few.
  private readonly routes = new Map<string, GuardRoute>();

  constructor(
    private readonly redis: () => Promise<RedisClient>,
    private readonly keys: Keys,
  ) {
    this.named = guardKeys(keys);
  }

  choose(req: GuardRequest): Promise<GuardAnswer> {
    const job = guardJob(this.keys, this.route(req.queue, req.candidates), req);
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ job, resolve, reject });
    });
  }

  private route(queue: string, candidates: readonly string[]): GuardRoute {
    // JSON, not a separator: names are checked only when their route is made, so no list may alias another.
    const id = JSON.stringify([queue, ...candidates]);
    let route = this.routes.get(id);
    if (!route) {
      route = guardRoute(this.keys, queue, candidates);
      if (this.routes.size >= MAX_ROUTES) this.routes.clear();
      this.routes.set(id, route);
    }
    return route;
  }

  private flush(): void {
    while (this.pending.length) {
      const batch = this.pending.splice(0, GUARD_BATCH_MAX);
      this.redis()
        .then((redis) =>
          guard(
            redis,
            this.named,
            batch.map((b) => b.job),
          ),
        )
        .then(
          (answers) => batch.forEach((b, i) => b.resolve(answers[i]!)),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        );
    }
  }
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

export interface FailoverCount {
  queue: string;
  from: string;
  to: string;
  jobs: number;
}

/** Jobs that ran on another candidate than their first choice, per queue and pair, since counting began. */
export async function readFailovers(redis: RedisClient, keys: Keys): Promise<FailoverCount[]> {
  const out: FailoverCount[] = [];
  for (const [field, n] of Object.entries(await redis.hgetall(keys.failovers))) {
    const [queue, from, to, extra] = field.split('|');
    if (queue === 'held' || queue === 'route' || !from || !to || extra !== undefined) continue;
    out.push({ queue: queue!, from, to, jobs: Number(n) });
  }
  return out;
}

/** The candidates jobs list after `queue:provider` (where its calls go while it is held), if any worker noted them. */
export async function routeOf(redis: RedisClient, keys: Keys, target: string): Promise<string[]> {
  const route = await redis.hget(keys.failovers, `route|${target}`);
  return route ? route.split(',') : [];
}

export interface HeldRoute {
  queue: string;
  /** A provider held on this queue (a pausing provider hold covers queue:provider). */
  provider: string;
  /** Where its jobs go meanwhile: the candidates after it that workers' jobs listed (empty: none noted). */
  to: string[];
  /** Its jobs that ran on another candidate since the hold began. */
  failedOver: number;
}

/** Each held provider target, where its jobs go, and how many went so far: for status, console and CLI. */
export async function heldRoutes(redis: RedisClient, keys: Keys): Promise<HeldRoute[]> {
  const [held, counts] = await Promise.all([redis.hkeys(keys.coveredProviders), redis.hgetall(keys.failovers)]);
  return held.sort().map((target) => {
    const { queue, provider } = parseTarget(target);
    const route = counts[`route|${target}`];
    return { queue, provider: provider!, to: route ? route.split(',') : [], failedOver: Number(counts[`held|${target}`] ?? 0) };
  });
}
