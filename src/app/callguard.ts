import { Queue } from 'bullmq';
import type { Config } from './config.js';
import { closeWorker } from '../jobs/close-worker.js';
import { Control } from '../engine/control.js';
import { Counters } from '../store/counters.js';
import { Enforcer } from '../engine/enforcer.js';
import { Evaluator } from '../engine/evaluator.js';
import { coreHandlers, startHealthWorker, type JobHandler } from '../jobs/worker.js';
import { HoldLedger } from '../store/holds.js';
import { alertHandler } from '../jobs/alert-handler.js';
import { JOB } from '../jobs/contract.js';
import { EVENTS_QUEUE, Keys } from '../store/keys.js';
import { Metrics } from '../ops/metrics.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { Notifier } from '../notify/notifier.js';
import { SLACK_ACTION_JOB, slackActionHandler } from '../jobs/slack-action.js';
import { assertReachable, connectRedis, type CallguardRedis } from '../store/redis.js';
import { Reporter } from '../client/reporter.js';
import { RedisHealth } from '../store/redis-health.js';
import type { Rule } from '../domain/types.js';
import type { Worker } from 'bullmq';

export interface Callguard {
  config: Config;
  rules: Rule[];
  logger: Logger;
  redis: CallguardRedis;
  keys: Keys;
  counters: Counters;
  ledger: HoldLedger;
  enforcer: Enforcer;
  evaluator: Evaluator;
  control: Control;
  /** callguard's own queue: error reports, alerts, the evaluate scheduler. Never paused. */
  events: Queue;
  /** The user's dispatch queues, by name. */
  dispatch: Map<string, Queue>;
  reporter: Reporter;
  /** Slack notifications (`notifier.queue` is the `notifications` queue, for Bull Board). */
  notifier: Notifier;
  /** Job handlers of the events queue by job name; features add theirs before start(). */
  handlers: Record<string, JobHandler>;
  metrics: Metrics;
  /** Whether the shared connection serves right now (HTTP answers 503 fast while it does not). */
  redisHealth: RedisHealth;
  /** Starts the health worker and the evaluator schedule (omit for an API-only process). */
  startWorker(): Promise<Worker>;
  /** Flushes reports, lets running jobs finish (at most `graceMs`), closes queues and connections. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** Wires callguard's parts together; nothing runs until startWorker(). */
export async function createCallguard(config: Config, rules: Rule[], opts: { logger?: Logger } = {}): Promise<Callguard> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const redis = connectRedis(config);
  redis.on('error', () => undefined); // reported once by assertReachable, then by ioredis' reconnects
  try {
    await assertReachable(redis, config);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const keys = new Keys(config.prefix);
  const redisHealth = new RedisHealth(redis, keys.changedAt).start();
  const counters = new Counters(redis, keys, rules, config.minuteMs);
  const ledger = new HoldLedger(redis, keys, config.queues);
  const dispatch = new Map(config.queues.map((q) => [q, new Queue(q, { connection: redis, prefix: config.queuePrefix })]));
  const enforcer = new Enforcer(dispatch, ledger, logger, config.minuteMs);
  const evaluator = new Evaluator(rules, counters, ledger, enforcer, config);
  const control = new Control(config.queues, ledger, counters, enforcer, evaluator);
  const events = new Queue(EVENTS_QUEUE, {
    connection: redis,
    prefix: config.prefix,
    defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 5000 },
  });
  // Without a listener BullMQ prints every reconnect failure; one line per interval is enough.
  const onQueueError = throttled(30_000, (err: Error) => logger.warn({ err: err.message }, 'Redis connection problem'));
  for (const q of [events, ...dispatch.values()]) q.on('error', onQueueError);
  const reporter = new Reporter(events, {
    flushMs: config.flushMs,
    onError: (err) => logger.error({ err: (err as Error).message }, 'could not flush error reports'),
  });
  const handlers = coreHandlers(rules, counters, evaluator);
  evaluator.onChange((changes) => {
    for (const c of changes) {
      logger.info({ hold: c.hold.id, by: c.event === 'hold-added' ? c.hold.by : undefined, paused: c.paused, resumed: c.resumed }, `${c.event}: ${c.hold.id}`);
    }
  });
  const notifier = new Notifier({ config, redis, keys, ledger, dispatch, logger });
  notifier.queue.on('error', onQueueError);
  evaluator.onChange(notifier.notifyChanges);
  const metrics = new Metrics({ rules, counters, ledger, dispatch });
  evaluator.onChange(metrics.onChanges);
  evaluator.onEvaluated(metrics.onEvaluated);
  handlers[SLACK_ACTION_JOB] = slackActionHandler({ control, notifier, admins: config.slack.admins });
  handlers[JOB.alert] = alertHandler({ control, rules, redis, keys });
  let worker: Worker | undefined;

  return {
    config, rules, logger, redis, keys, counters, ledger, enforcer, evaluator, control, events, dispatch, reporter, notifier, handlers, metrics, redisHealth,
    async startWorker() {
      // Upserting on every boot is intended: all instances share one schedule by id. Again after
      // each reconnect, so a Redis that lost its data (failover, restart without persistence)
      // gets its evaluator back.
      const schedule = () => events.upsertJobScheduler(JOB.evaluate, { every: config.minuteMs }, {
        name: JOB.evaluate,
        opts: { removeOnComplete: 100, removeOnFail: 100 },
      });
      await schedule();
      redis.on('ready', () => void schedule().catch((err) => logger.warn({ err: (err as Error).message }, 'could not re-create the evaluator schedule')));
      worker = startHealthWorker({ connection: redis, prefix: config.prefix, handlers, logger });
      metrics.observeEvents(worker);
      metrics.observeNotifications(await notifier.start());
      // Repair whatever drifted while no instance was running.
      await evaluator.evaluate({ full: true });
      return worker;
    },
    async stop({ graceMs = 10_000 } = {}) {
      redisHealth.stop();
      await reporter.close();
      if (worker) await closeWorker(worker, graceMs, logger);
      await notifier.close(graceMs);
      await Promise.all([events.close(), ...[...dispatch.values()].map((q) => q.close())]);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function throttled<A extends unknown[]>(intervalMs: number, fn: (...args: A) => void): (...args: A) => void {
  let last = 0;
  return (...args) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    fn(...args);
  };
}
