import { Queue } from 'bullmq';
import type { Config } from './config.js';
import { closeWorker } from '../jobs/close-worker.js';
import { Control } from '../engine/control.js';
import { ParkedJobs } from '../store/parked.js';
import { Counters } from '../store/counters.js';
import { Enforcer } from '../engine/enforcer.js';
import { Evaluator } from '../engine/evaluator.js';
import { StateMarker } from '../store/state-marker.js';
import { OutboxCursor } from '../store/outbox-cursor.js';
import { Outbox } from '../notify/outbox.js';
import { EngineEmitter } from '../engine/events.js';
import { Transitions } from '../engine/transitions.js';
import { startHealthWorker } from '../jobs/worker.js';
import { registry, type EventsJob } from '../jobs/registry.js';
import { errorReportJob, evaluateJob } from '../jobs/error-report.js';
import { HoldLedger } from '../store/holds.js';
import { AlertMarks } from '../store/alert-marks.js';
import { alertJob } from '../jobs/alert-handler.js';
import { EVENTS_KEEP_COMPLETED, JOB } from '../jobs/contract.js';
import { EVENTS_QUEUE, Keys } from '../store/keys.js';
import { Metrics } from '../ops/metrics.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { throttledErrorLog } from '../domain/log-throttle.js';
import { Notifier } from '../notify/notifier.js';
import { slackActionJob } from '../jobs/slack-action.js';
import { assertReachable, connectRedis, type CallguardRedis } from '../store/redis.js';
import { Reporter } from '../client/reporter.js';
import { RedisHealth } from '../store/redis-health.js';
import type { Rule } from '../domain/types.js';
import { readFailovers, writeCapacities } from '../store/guard.js';
import type { Worker } from 'bullmq';
import { JobSigner } from '../jobs/job-signer.js';
import { JobReceipts } from '../store/job-receipts.js';
import { ReplayGuard } from '../store/replay.js';
import { LiveRules, type RulesSeed } from '../engine/live-rules.js';
import { RulesStore } from '../store/rules-store.js';
import { rulesToFile } from '../domain/rules-doc.js';
import { SilenceStore } from '../store/silences.js';
import { Silencer } from '../engine/silencer.js';
import { History } from '../store/history.js';
import { countersOf } from '../domain/outcomes.js';

export interface Callguard {
  config: Config;
  /** The active rules version's rules (one array, its contents replaced when another version becomes active). */
  rules: Rule[];
  /** The shared, versioned rules: which version is in force, edits, rollbacks. */
  liveRules: LiveRules;
  logger: Logger;
  redis: CallguardRedis;
  keys: Keys;
  counters: Counters;
  ledger: HoldLedger;
  enforcer: Enforcer;
  /** Hold changes and evaluations, published after they are committed and enforced. */
  emitter: EngineEmitter;
  evaluator: Evaluator;
  control: Control;
  /** Silences: rules muted until a time (stored in Redis, audited, announced). */
  silencer: Silencer;
  /** The last 24 h of per-minute counts, for dry-run replays. */
  history: History;
  /** callguard's own queue: error reports, alerts, the evaluate scheduler. Never paused. */
  events: Queue;
  /** The user's dispatch queues, by name. */
  dispatch: Map<string, Queue>;
  reporter: Reporter;
  /** Slack notifications (`notifier.queue` is the `notifications` queue, for Bull Board). */
  notifier: Notifier;
  /** The events queue's jobs, each declared once with its schema and handler. */
  jobs: EventsJob[];
  metrics: Metrics;
  /** Whether the shared connection serves right now (HTTP answers 503 fast while it does not). */
  redisHealth: RedisHealth;
  /** Signs hold-changing jobs with their principal (HTTP side) and verifies them (worker side). */
  signer: JobSigner;
  /** Remembers accepted webhook and Slack signatures so each is accepted once. */
  replay: ReplayGuard;
  /** Starts the health worker and the evaluator schedule (omit for an API-only process). */
  startWorker(): Promise<Worker>;
  /** Flushes reports, lets running jobs finish (at most `graceMs`, default CALLGUARD_SHUTDOWN_GRACE_SECONDS), closes queues and connections. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** Wires callguard's parts together; nothing runs until startWorker(). */
/**
 * `rules` are this instance's rules (its file's); `rulesSeed` is what the file holds, to publish
 * as a version (default: `rules` written back in file form). The instance then runs whatever
 * version is active in Redis (CALLGUARD_RULES_SOURCE decides whether its file becomes it).
 */
export async function createCallguard(
  config: Config,
  fileRules: Rule[],
  opts: { logger?: Logger; rulesSeed?: RulesSeed } = {},
): Promise<Callguard> {
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
  const liveRules = new LiveRules({
    store: new RulesStore(redis, keys),
    mode: config.rulesSource,
    queues: config.queues,
    seed: opts.rulesSeed ?? { content: rulesToFile(fileRules), file: config.rulesPath },
    seedRules: fileRules,
    logger,
  });
  try {
    await liveRules.init();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const rules = liveRules.rules;
  // The guards read capacities from Redis: written for the version in force, again when another becomes it.
  await writeCapacities(redis, keys, liveRules.capacities);
  liveRules.onChange(() => {
    writeCapacities(redis, keys, liveRules.capacities).catch((err: unknown) =>
      logger.error({ err }, 'could not write provider capacities'),
    );
  });
  const redisHealth = new RedisHealth(redis, keys.changedAt).start();
  const counters = new Counters(redis, keys, rules, config.minuteMs);
  const ledger = new HoldLedger(redis, keys, config.queues, config.maxAlertHolds, config.minuteMs);
  const dispatch = new Map(config.queues.map((q) => [q, new Queue(q, { connection: redis, prefix: config.queuePrefix })]));
  const enforcer = new Enforcer(dispatch, ledger, logger, config.minuteMs, new ParkedJobs(redis, keys));
  const emitter = new EngineEmitter(logger);
  const rulesVersion = () => liveRules.version;
  const transitions = new Transitions(ledger, enforcer, emitter, rulesVersion);
  const silences = new SilenceStore(redis, keys);
  const evaluator = new Evaluator(
    rules,
    counters,
    ledger,
    transitions,
    enforcer,
    emitter,
    config,
    new StateMarker(redis, keys),
    rulesVersion,
    silences,
  );
  const silencer = new Silencer(silences, emitter, () => evaluator.evaluate({ full: true }));
  const history = new History(redis, keys, config.minuteMs);
  // Each tick copies the finished minutes into the 24 h history (idempotent: any instance, any number of times).
  // Beside the tick, not in it: at 10,000 rules a minute's copy takes longer than the tick (bench P5),
  // and nothing the tick decides reads it. One copy at a time; a tick during one copies nothing more.
  let copying: Promise<void> | undefined;
  emitter.on(
    'evaluated',
    (_s, full) => {
      if (!full || copying) return;
      copying = history
        .record(() => countersOf(rules).map((c) => c.name))
        .catch((err: unknown) => logger.warn({ err }, 'could not copy the finished minutes into the history'))
        .finally(() => (copying = undefined));
    },
    'history',
  );
  const control = new Control(config.queues, ledger, counters, transitions);
  const events = new Queue(EVENTS_QUEUE, {
    connection: redis,
    prefix: config.prefix,
    defaultJobOptions: { removeOnComplete: EVENTS_KEEP_COMPLETED, removeOnFail: 5000 },
  });
  // Without a listener BullMQ prints every reconnect failure; one line per interval is enough.
  const onQueueError = throttledErrorLog(logger, 'Redis connection problem', { level: 'warn' });
  for (const q of [events, ...dispatch.values()]) q.on('error', onQueueError);
  const reporter = new Reporter(events, {
    flushMs: config.flushMs,
    onError: (err) => logger.error({ err }, 'could not flush error reports'),
  });
  emitter.on(
    'changes',
    (changes) => {
      for (const c of changes) {
        logger.info(
          { hold: c.hold.id, by: c.event === 'hold-added' ? c.hold.by : undefined, paused: c.paused, resumed: c.resumed },
          `${c.event}: ${c.hold.id}`,
        );
      }
    },
    'log',
  );
  const notifier = new Notifier({ config, redis, keys, ledger, dispatch, logger, rules });
  notifier.queue.on('error', onQueueError);
  const outbox = new Outbox(ledger, new OutboxCursor(redis, keys), notifier.notifyChanges, logger);
  await outbox.init();
  emitter.on('changes', outbox.relay, 'outbox');
  // The safety net: whatever a crashed instance committed but never announced goes out on the next tick.
  emitter.on('evaluated', (_seconds, full) => (full ? outbox.relay() : undefined), 'outbox');
  const metrics = new Metrics({
    rules,
    counters,
    ledger,
    dispatch,
    events,
    minuteMs: config.minuteMs,
    liveRules,
    silences,
    failovers: () => readFailovers(redis, keys),
  });
  emitter.on('changes', metrics.onChanges, 'metrics');
  emitter.on('evaluated', metrics.onEvaluated, 'metrics');
  emitter.on(
    'state-lost',
    (auditId) => logger.error({ auditId }, 'Redis lost callguard’s state: holds from before are gone; re-evaluating'),
    'log',
  );
  emitter.on('state-lost', metrics.onStateLost, 'metrics');
  emitter.on('state-lost', notifier.notifyStateLost, 'notifier');
  emitter.on('silences', notifier.notifySilences, 'notifier');
  // From version 2 on: the first replaces nothing (a new deployment's seed); the audit records it.
  liveRules.onPublished((p) => {
    if (p.version < 2) return;
    notifier.notifyRules(p).catch((err: unknown) => logger.error({ err, version: p.version }, 'could not announce the rules version'));
  });
  emitter.on('silences', (event, list, by) => logger.info({ by, silences: list.map((x) => x.id) }, event), 'log');
  const signer = await JobSigner.create(redis, keys, config.sessionSecret);
  const replay = new ReplayGuard(redis, keys);
  const receipts = new JobReceipts(redis, keys);
  const jobs = [
    errorReportJob(rules, counters, evaluator, metrics.onReportDropped),
    evaluateJob(evaluator),
    alertJob({ holds: control, rules, marks: new AlertMarks(redis, keys), receipts, audit: ledger, verifier: signer, logger }),
    slackActionJob({
      holds: control,
      messages: notifier,
      admins: config.slack.admins,
      verifier: signer,
      receipts,
      now: () => ledger.now(),
    }),
  ];
  let worker: Worker | undefined;
  // A new version is judged at once (a removed rule's hold released, a lowered threshold tripped), not at the next tick.
  liveRules.onChange((v) => {
    logger.info({ version: v.version, by: v.by, source: v.source }, `rules version ${v.version} is in force`);
    if (worker) void evaluator.evaluate({ full: true }).catch((err) => logger.warn({ err }, 'could not evaluate the new rules version'));
  });
  liveRules.start();

  return {
    config,
    rules,
    liveRules,
    logger,
    redis,
    keys,
    counters,
    ledger,
    enforcer,
    emitter,
    evaluator,
    control,
    silencer,
    history,
    events,
    dispatch,
    reporter,
    notifier,
    jobs,
    metrics,
    signer,
    replay,
    redisHealth,
    async startWorker() {
      // Upserting on every boot is intended: all instances share one schedule by id. Again after
      // each reconnect, so a Redis that lost its data (failover, restart without persistence)
      // gets its evaluator back.
      const schedule = () =>
        events.upsertJobScheduler(
          JOB.evaluate,
          { every: config.minuteMs },
          {
            name: JOB.evaluate,
            opts: { removeOnComplete: EVENTS_KEEP_COMPLETED, removeOnFail: 100 },
          },
        );
      await schedule();
      // After a reconnect: the schedule back, and at once a full evaluation, which notices lost state.
      redis.on('ready', () => {
        void schedule().catch((err) => logger.warn({ err }, 'could not re-create the evaluator schedule'));
        void evaluator.evaluate({ full: true }).catch((err) => logger.warn({ err }, 'could not evaluate after reconnecting'));
      });
      worker = startHealthWorker({ connection: redis, prefix: config.prefix, jobs: registry(jobs), logger, lockMs: config.jobLockMs });
      metrics.observeEvents(worker);
      metrics.observeNotifications(await notifier.start());
      // Repair whatever drifted while no instance was running.
      await evaluator.evaluate({ full: true });
      return worker;
    },
    async stop({ graceMs = config.shutdownGraceMs } = {}) {
      redisHealth.stop();
      liveRules.stop();
      await reporter.close();
      if (worker) await closeWorker(worker, graceMs, logger);
      await copying;
      await notifier.close(graceMs);
      await Promise.all([events.close(), ...[...dispatch.values()].map((q) => q.close())]);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
