import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

/**
 * callguard's Lua scripts (scripts/*.lua), each with its keys by name and its reply decoded.
 * The file name says how many keys a script takes: name-N.lua takes N, name-n.lua any number
 * (named keys first, then a list). Scripts run through ioredis `defineCommand` with their keys,
 * so on a cluster they go to the node owning the keys' slot (EVALSHA, then EVAL on NOSCRIPT).
 */
type Client = Redis | Cluster;
type Arg = string | number;

interface Script<Names extends readonly string[]> {
  /** The command defineCommand adds to a connection. */
  readonly command: string;
  /** Its file in scripts/. */
  readonly file: string;
  readonly lua: string;
  /** KEYS[1], KEYS[2] … by name, as the script's header lists them. */
  readonly keys: Names;
  /** From the file name; undefined for name-n.lua (the count is sent with each call). */
  readonly numberOfKeys: number | undefined;
}

/** A script's keys by name. */
export type KeysOf<S> = S extends Script<infer N> ? { readonly [K in N[number]]: string } : never;

/** The key count a script file's name declares: N for name-N.lua, undefined for name-n.lua. */
export function keyCountOf(file: string): number | undefined {
  const m = /-(\d+|n)\.lua$/.exec(file);
  if (!m) throw new Error(`${file}: a script's file name ends in -N.lua (N keys) or -n.lua (any number)`);
  return m[1] === 'n' ? undefined : Number(m[1]);
}

/** Every script loaded below, in the order loaded: withScripts defines them all. */
export const SCRIPTS: Array<Script<readonly string[]>> = [];

function load<const Names extends readonly string[]>(command: string, file: string, keys: Names): Script<Names> {
  const numberOfKeys = keyCountOf(file);
  if (numberOfKeys !== undefined && numberOfKeys !== keys.length) {
    throw new Error(`${file} takes ${numberOfKeys} keys but ${keys.length} are named: ${keys.join(', ')}`);
  }
  const script = { command, file, lua: readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8'), keys, numberOfKeys };
  SCRIPTS.push(script);
  return script;
}

/** The script's KEYS then ARGV, as its command takes them (with the key count first for name-n.lua). */
export function argsOf<N extends readonly string[]>(script: Script<N>, keys: KeysOf<Script<N>>, more: string[], argv: Arg[]): Arg[] {
  const named = script.keys.map((name) => (keys as Record<string, string>)[name]!);
  if (script.numberOfKeys !== undefined) return [...named, ...argv];
  return [named.length + more.length, ...named, ...more, ...argv];
}

async function run<N extends readonly string[]>(
  redis: Client,
  script: Script<N>,
  keys: KeysOf<Script<N>>,
  more: string[],
  argv: Arg[],
): Promise<unknown> {
  const command = (withScripts(redis) as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[script.command]!;
  return command.apply(redis, argsOf(script, keys, more, argv));
}

// record-n.lua: counts one report exactly once; KEYS[3…] are the rules' counts hashes.
export const RECORD = load('cgRecord', 'record-n.lua', ['countedReports', 'windowSums']);

/** Redis' now, whether this report id was counted now (false: counted before), each rule's window sum. */
export async function record(
  redis: Client,
  keys: KeysOf<typeof RECORD>,
  counts: string[],
  argv: { id: string; idTtlMs: number; minuteMs: number; keep: number; rules: Array<[name: string, count: number, windowMinutes: number]> },
): Promise<{ now: number; counted: boolean; sums: number[] }> {
  const reply = (await run(redis, RECORD, keys, counts, [
    argv.id,
    argv.idTtlMs,
    argv.minuteMs,
    argv.keep,
    ...argv.rules.flat(),
  ])) as number[];
  const [now, counted, ...sums] = reply;
  return { now: now!, counted: counted === 1, sums };
}

// sum-counts-n.lua: window sums of some rules; KEYS[2…] are the rules' counts hashes.
export const SUM_COUNTS = load('cgSumCounts', 'sum-counts-n.lua', ['windowSums']);

/**
 * A sum-counts call's arguments, made once and sent as they are: a tick at 10,000 rules reads the
 * same keys and names every time, and encoding them anew was most of its CPU (bench P5).
 */
export type SumCountsCall = readonly string[];

export function sumCountsCall(
  keys: KeysOf<typeof SUM_COUNTS>,
  /** Each counter's counts hash: `countsPrefix` then the counter's name. */
  counts: string[],
  argv: { minuteMs: number; countsPrefix: string; windows: number[] },
): SumCountsCall {
  return argsOf(SUM_COUNTS, keys, counts, [argv.minuteMs, Buffer.byteLength(argv.countsPrefix), argv.windows.join(' ')]).map(String);
}

/** Redis' now and each rule's window sum, in the order of the call's rules. */
export async function sumCounts(redis: Client, call: SumCountsCall): Promise<{ now: number; sums: number[] }> {
  const command = (withScripts(redis) as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[SUM_COUNTS.command]!;
  const [now, ...sums] = (await command.apply(redis, call as string[])) as number[];
  return { now: now!, sums };
}

// copy-history-n.lua: KEYS are each counter's counts hash and history ring, in pairs.
export const COPY_HISTORY = load('cgCopyHistory', 'copy-history-n.lua', []);

/** Copies the minutes of each counter (its counts hash, its history ring) that have a bucket; returns how many were written to. */
export async function copyHistory(
  redis: Client,
  pairs: Array<[counts: string, history: string]>,
  argv: { minutes: number[]; ringMinutes: number; ttlMs: number },
): Promise<number> {
  return (await run(redis, COPY_HISTORY, {}, pairs.flat(), [argv.minutes.join(' '), argv.ringMinutes, argv.ttlMs])) as number;
}

export const CHANGE_HOLDS = load('cgChangeHolds', 'change-holds-10.lua', [
  'holds',
  'covered',
  'audit',
  'changedAt',
  'clearSince',
  'holdIndex',
  'alertOverflow',
  'coveredProviders',
  'providerLimits',
  'failovers',
]);

/** Applies one JSON hold-change request; the reply is JSON too (the ledger decodes it). */
export async function changeHolds(redis: Client, keys: KeysOf<typeof CHANGE_HOLDS>, request: string): Promise<string> {
  return (await run(redis, CHANGE_HOLDS, keys, [], [request])) as string;
}

// guard-n.lua: KEYS[6…] are per route each candidate's rate log and capacity log, then the jobs' tried sets.
export const GUARD = load('cgGuard', 'guard-n.lua', ['covered', 'coveredProviders', 'providerLimits', 'capacities', 'failovers']);

/** The most jobs one guard call answers (guard-n.lua refuses more). */
export const GUARD_BATCH_MAX = 64;

/** What guard-n.lua answers for one dispatch job. */
export enum GuardVerdict {
  Run = 0,
  QueueHeld = 1,
  /** No candidate can run and some are held: park until one of those is released. */
  ProviderHeld = 2,
  /** None held, each at its limit: ask again after `waitMs`. */
  NoRoom = 3,
}

export interface GuardAnswer {
  verdict: GuardVerdict;
  /** With Run: the provider to call (absent for a job without candidates). */
  provider?: string;
  /** With ProviderHeld: the candidates that are held (a release of any of them brings the job back). */
  held: string[];
  /** With NoRoom: ms until the soonest candidate has room. */
  waitMs: number;
  /** With NoRoom: the period of that limit (a minute for a probe, a second for a capacity), to spread waiters over. */
  periodMs: number;
}

/** A queue and a candidate list with their keys (per candidate its rate log and capacity log): what the jobs of one route share in a guard call. */
export interface GuardRoute {
  queue: string;
  candidates: readonly string[];
  keys: readonly string[];
}

/** One job's check in a guard call. */
export interface GuardJob {
  route: GuardRoute;
  /** Unique to this attempt (the entry it takes in the rate logs). */
  member: string;
  /** The set of candidates its calls failed on: present exactly when its route has several candidates. */
  tried?: string;
  register: boolean;
}

/** A job's reply, with candidate numbers and the held bits turned back into provider names. */
export function decodeGuard(reply: readonly number[], candidates: readonly string[]): GuardAnswer {
  const [verdict, waitMs, periodMs, chosen, heldBits] = reply as [number, number, number, number, number];
  if (!(verdict in GuardVerdict)) throw new Error(`guard-n.lua answered an unknown verdict: ${String(verdict)}`);
  return {
    verdict,
    ...(chosen > 0 ? { provider: candidates[chosen - 1]! } : {}),
    held: candidates.filter((_, i) => Math.floor(heldBits / 2 ** i) % 2 === 1),
    waitMs,
    periodMs,
  };
}

/** One call answering `jobs` (at most GUARD_BATCH_MAX) in order, each as if alone; jobs with the same route object share its keys. */
export async function guard(redis: Client, keys: KeysOf<typeof GUARD>, jobs: readonly GuardJob[]): Promise<GuardAnswer[]> {
  if (jobs.length > GUARD_BATCH_MAX) throw new RangeError(`at most ${GUARD_BATCH_MAX} jobs per guard call, not ${jobs.length}`);
  const routes = new Map<GuardRoute, { n: number; register: boolean }>();
  for (const j of jobs) {
    const r = routes.get(j.route);
    if (r) r.register ||= j.register;
    else routes.set(j.route, { n: routes.size + 1, register: j.register });
  }
  const more: string[] = [];
  const argv: Arg[] = [routes.size];
  for (const [route, r] of routes) {
    more.push(...route.keys);
    argv.push(route.queue, r.register ? '1' : '0', route.candidates.length, ...route.candidates);
  }
  for (const j of jobs) {
    if (j.tried !== undefined) more.push(j.tried);
    argv.push(routes.get(j.route)!.n, j.member);
  }
  const reply = (await run(redis, GUARD, keys, more, argv)) as number[];
  if (reply.length !== jobs.length * 5) throw new Error(`guard-n.lua answered ${reply.length} values for ${jobs.length} jobs`);
  return jobs.map((j, i) => decodeGuard(reply.slice(i * 5, i * 5 + 5), j.route.candidates));
}

export const DROP_PARKED_TARGET = load('cgDropParkedTarget', 'drop-parked-target-2.lua', ['parked', 'parkedIndex']);

/** True if the target was dropped from the index, false while jobs are parked for it. */
export async function dropParkedTarget(redis: Client, keys: KeysOf<typeof DROP_PARKED_TARGET>, target: string): Promise<boolean> {
  return (await run(redis, DROP_PARKED_TARGET, keys, [], [target])) === 1;
}

export const CANCEL_REPORT = load('cgCancelReport', 'cancel-report-1.lua', ['countedReports']);

/** True if cancelled now (it will never be counted), false if it was counted already. */
export async function cancelReport(redis: Client, keys: KeysOf<typeof CANCEL_REPORT>, id: string, idTtlMs: number): Promise<boolean> {
  return (await run(redis, CANCEL_REPORT, keys, [], [id, idTtlMs])) === 1;
}

export const ADVANCE_CURSOR = load('cgAdvanceCursor', 'advance-cursor-1.lua', ['cursor']);

/** True if the position moved, false if it was already there or past it. */
export async function advanceCursor(redis: Client, keys: KeysOf<typeof ADVANCE_CURSOR>, id: string): Promise<boolean> {
  return (await run(redis, ADVANCE_CURSOR, keys, [], [id])) === 1;
}

export const PUBLISH_RULES = load('cgPublishRules', 'publish-rules-3.lua', ['active', 'history', 'audit']);

export type PublishRulesReply = [status: 'published', version: number, at: number] | [status: 'stale' | 'same', version: number];

/** Publishes a rules version if the expected one is still active (see the script's header for argv). */
export async function publishRules(redis: Client, keys: KeysOf<typeof PUBLISH_RULES>, argv: string[]): Promise<PublishRulesReply> {
  return (await run(redis, PUBLISH_RULES, keys, [], argv)) as PublishRulesReply;
}

export const SILENCE = load('cgSilence', 'silence-2.lua', ['silences', 'audit']);

/** One silence operation (see the script's header); the reply is JSON. */
export async function silence(redis: Client, keys: KeysOf<typeof SILENCE>, argv: Arg[]): Promise<string> {
  return (await run(redis, SILENCE, keys, [], argv)) as string;
}

// claim-idempotency-2.lua: an Idempotency-Key claimed within its principal's quota of live keys.
export const CLAIM_IDEMPOTENCY = load('cgClaimIdempotency', 'claim-idempotency-2.lua', ['answer', 'quota']);

export type Claim = { state: 'new' } | { state: 'pending' } | { state: 'full' } | { state: 'done'; reply: unknown };

/** Claims the key unless it is answered, in progress, or its principal's quota of live keys is full. */
export async function claimIdempotency(
  redis: Client,
  keys: KeysOf<typeof CLAIM_IDEMPOTENCY>,
  argv: { pendingMs: number; cap: number; bucketMs: number },
): Promise<Claim> {
  const [code, answer] = (await run(redis, CLAIM_IDEMPOTENCY, keys, [], [argv.pendingMs, argv.cap, argv.bucketMs])) as [number, string?];
  if (code === 1) return { state: 'new' };
  if (code === 2) return { state: 'done', reply: JSON.parse(answer!) as unknown };
  if (code === 3) return { state: 'pending' };
  if (code === 4) return { state: 'full' };
  throw new Error(`claim-idempotency-2.lua: unknown reply ${code}`);
}

/** Defines every script on the connection (once); ioredis sends EVALSHA and falls back to EVAL after a script flush. */
export function withScripts<C extends Client>(redis: C): C {
  for (const { command, lua, numberOfKeys } of SCRIPTS) {
    if (!(command in redis)) redis.defineCommand(command, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  return redis;
}
