/** The reporter connection and the process-wide shared reporter (reportError, guarded workers' outcomes). */
import { Queue } from 'bullmq';
import { loadClientConfig } from './config.js';
import { EVENTS_QUEUE } from '../store/keys.js';
import { Reporter, type ReporterOptions, type ReporterStats } from './reporter.js';
import { withTimeout } from '../domain/timeout.js';
import { connectRedis, describeConnectError, redactUrl, type HostPort } from '../store/redis.js';

export interface ReporterConnection extends ReporterOptions {
  /** Default: REDIS_URL or redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Default: REDIS_CLUSTER_NODES; when set (non-empty), a cluster client and redisUrl is ignored. */
  clusterNodes?: HostPort[];
  /** Default: CALLGUARD_PREFIX or {callguard}. */
  prefix?: string;
  /** No warning on stderr when Redis cannot be reached or counts are lost at close (the stats still say). */
  quiet?: boolean;
}

/** A reporter with its own connection to callguard's events queue. */
export function createReporter(opts: ReporterConnection = {}): Reporter & { close(timeoutMs?: number): Promise<void> } {
  const env = loadClientConfig({
    ...process.env,
    REDIS_URL: opts.redisUrl ?? process.env.REDIS_URL,
    REDIS_CLUSTER_NODES: opts.clusterNodes
      ? opts.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')
      : process.env.REDIS_CLUSTER_NODES,
    CALLGUARD_PREFIX: opts.prefix ?? process.env.CALLGUARD_PREFIX,
  });
  // Fail fast instead of queueing commands while Redis is away: the reporter keeps the batch.
  // Reconnect within a second of Redis returning (BullMQ's default back-off grows to 20 s).
  const connection = connectRedis(env, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  });
  // A wrong REDIS_URL or a Redis that is away is said once per outage on stderr, not per retry:
  // the reporter keeps the counts and resends them, so the app carries on either way.
  const where = env.clusterNodes.length
    ? `REDIS_CLUSTER_NODES=${env.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
    : redactUrl(env.redisUrl);
  let warned = false;
  const say = (why: string) => {
    if (warned || opts.quiet) return;
    warned = true;
    console.warn(`callguard client: cannot reach Redis at ${where} (${why}); counts are kept and resent when it answers`);
  };
  connection.on('error', (err: Error) => say(describeConnectError(err) ?? err.message));
  connection.on('ready', () => (warned = false));
  // A failed flush while the connection is down is the connection's error, said above with its
  // reason; one while it is up (a frozen Redis) is said here. Either way once per outage.
  const onUnreachable = (err: unknown) => {
    if (connection.status === 'ready') say(err instanceof Error ? err.message : String(err));
  };
  const queue = new Queue(EVENTS_QUEUE, { connection, prefix: env.prefix });
  // A reporting path must never crash the app; failures are counted by the reporter.
  queue.on('error', () => undefined);
  const reporter = new Reporter(queue, { flushMs: opts.flushMs ?? env.flushMs, onUnreachable, ...opts });
  const close = reporter.close.bind(reporter);
  return Object.assign(reporter, {
    async close(timeoutMs?: number) {
      const started = Date.now();
      await close(timeoutMs);
      const lost = reporter.stats.dropped;
      if (lost > 0 && !opts.quiet)
        console.warn(`callguard client: closed with ${lost} count(s) not delivered to Redis at ${where} (reporter.stats.dropped)`);
      // A frozen Redis must not hold the app's shutdown: close politely while there is time, then cut.
      const left = Math.max(0, (timeoutMs ?? opts.flushTimeoutMs ?? 5000) - (Date.now() - started));
      await withTimeout(queue.close(), left, () => undefined);
      // The connection is ours, not the queue's; disconnect() does not wait for a frozen server.
      connection.disconnect();
    },
  });
}

let shared: ReturnType<typeof createReporter> | undefined;

/** The process-wide reporter, made on first use from the environment. */
export function sharedReporter(): Reporter {
  return (shared ??= createReporter());
}

/** Counts `count` errors for a rule. Never throws, never waits: counts are coalesced and flushed in the background. */
export function reportError(rule: string, count = 1): void {
  try {
    sharedReporter().report(rule, count);
  } catch {
    // e.g. an invalid REDIS_URL: reporting must not break the caller
  }
}

/** The process-wide reporter's counters (reported, flushes, failedFlushes, unsent, dropped…); all 0 before its first use. */
export function reporterStats(): ReporterStats {
  return shared?.stats ?? { reported: 0, calls: 0, flushes: 0, dropped: 0, failedFlushes: 0, unsent: 0 };
}

/** Flushes and closes the shared reporter (call on shutdown). */
export async function closeReporter(): Promise<void> {
  const r = shared;
  shared = undefined;
  await r?.close();
}
