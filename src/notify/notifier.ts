import type { PublishedRules } from '../domain/rules-doc.js';
import type { Silence } from '../domain/silence.js';
import type { Rule } from '../domain/types.js';
/** The notifications queue: hold changes in, Slack messages out, as retried BullMQ jobs. */
import { closeWorker } from '../jobs/close-worker.js';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import { NOTIFICATIONS_QUEUE, type Keys } from '../store/keys.js';
import type { Logger } from 'pino';
import { throttledErrorLog } from '../domain/log-throttle.js';
import type { CallguardRedis } from '../store/redis.js';
import { deliveries, isNotified, NOTIFY_JOB, safeId, type ChangeJob, type NotifySettings, type PressedJob } from './deliveries.js';
import { isPermanent, retryDelay, SLACK_BACKOFF, type RetrySettings } from './retry.js';
import { createSender, type Sender } from './sender.js';

export interface NotifierDeps {
  config: NotifySettings;
  redis: CallguardRedis;
  keys: Keys;
  ledger: HoldLedger;
  dispatch: Map<string, Queue>;
  logger: Logger;
  /** Defaults to Slack with SLACK_BOT_TOKEN, else the log. */
  sender?: Sender;
  /** The rules in force (a live array), for how a rule hold will be lifted. */
  rules?: readonly Rule[];
}

export const NOTIFY_ATTEMPTS = 8;
const REMIND_SCHEDULER = 'remind';

export class Notifier {
  readonly queue: Queue;
  readonly retry: RetrySettings;
  private readonly sender: Sender;
  private worker?: Worker;

  constructor(private readonly deps: NotifierDeps) {
    const { config } = deps;
    // Like every other period, retry delays scale with CALLGUARD_MINUTE_SECONDS: 2 s doubling,
    // at most 5 min between tries, so 8 attempts ride out about 8 minutes of Slack trouble.
    this.retry = { baseMs: config.minuteMs / 30, maxMs: 5 * config.minuteMs };
    this.sender = deps.sender ?? createSender(config.slack, deps.logger);
    this.queue = new Queue(NOTIFICATIONS_QUEUE, {
      connection: deps.redis,
      prefix: config.prefix,
      defaultJobOptions: {
        attempts: NOTIFY_ATTEMPTS,
        backoff: { type: SLACK_BACKOFF },
        // Completed jobs are kept a week: their ids are what make a second enqueue of the same transition a no-op.
        removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
        removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
      },
    });
  }

  /**
   * The evaluator's change listener. It only enqueues, after enforcement already happened, and
   * never throws: a Slack or queue problem must not delay or undo a pause. The job id is the audit
   * entry's, so one transition is one message however often it is enqueued.
   */
  readonly notifyChanges = async (changes: HoldChange[]): Promise<void> => {
    const probes = new Map(changes.filter((c) => c.event === 'probe-started').map((c) => [c.hold.id, c.hold]));
    // Fails loudly: the outbox keeps its position and sends these again.
    await this.queue.addBulk(
      changes
        .filter((c) => isNotified(c, changes))
        .map((change) => {
          const probe = change.event === 'hold-released' ? probes.get(change.hold.id) : undefined;
          return {
            name: NOTIFY_JOB.change,
            data: { change, ...(probe ? { probe } : {}) } satisfies ChangeJob,
            opts: { jobId: `change-${safeId(change.auditId)}` },
          };
        }),
    );
  };

  /** Announces lost state once: the job id is the audit entry's. */
  readonly notifyStateLost = async (auditId: string, at: number): Promise<void> => {
    await this.queue.add(NOTIFY_JOB.stateLost, { at }, { jobId: `state-lost-${safeId(auditId)}` });
  };

  /** One message per silence placed or ended. */
  readonly notifySilences = async (
    event: 'silence-added' | 'silence-ended',
    silences: Silence[],
    by: string,
    at: number,
  ): Promise<void> => {
    for (const silence of silences) {
      await this.queue.add(NOTIFY_JOB.silence, { event, silence, by, at }, { jobId: `${event}-${safeId(silence.id)}` });
    }
  };

  /** One message per rules version published; the job id holds the version and its time, so a re-publish is not lost. */
  readonly notifyRules = async (p: PublishedRules): Promise<void> => {
    await this.queue.add(NOTIFY_JOB.rules, p, { jobId: `rules-${p.version}-${p.at}` });
  };

  /** Rewrites a message whose "Resume calls" was pressed; the first press per message wins. */
  async notifyPressed(p: PressedJob): Promise<void> {
    await this.queue.add(NOTIFY_JOB.pressed, p, { jobId: `pressed-${safeId(p.channel)}-${safeId(p.ts)}` });
  }

  async start(): Promise<Worker> {
    const { config, logger } = this.deps;
    if (config.remindMinutes > 0) {
      await this.queue.upsertJobScheduler(
        REMIND_SCHEDULER,
        { every: config.remindMinutes * config.minuteMs },
        {
          name: NOTIFY_JOB.remind,
          opts: { attempts: 1, removeOnComplete: 100, removeOnFail: 100 },
        },
      );
    } else {
      await this.queue.removeJobScheduler(REMIND_SCHEDULER);
    }
    const handlers = deliveries({ ...this.deps, sender: this.sender, queue: this.queue });
    const worker = new Worker(
      NOTIFICATIONS_QUEUE,
      async (job: Job) => {
        const handler = handlers[job.name];
        if (!handler) throw new UnrecoverableError(`unknown notification job "${job.name}"`);
        try {
          return await handler(job);
        } catch (err) {
          if (isPermanent(err)) throw new UnrecoverableError(`Slack refused: ${(err as Error).message}`);
          throw err;
        }
      },
      {
        connection: this.deps.redis,
        prefix: config.prefix,
        // One at a time per instance keeps messages in order and well under Slack's per-channel rate.
        concurrency: 1,
        // A message a crashed instance was sending goes out within about 2 × jobLockMs. A job
        // whose lock lapses (Redis frozen longer than that) runs again: Slack may see it twice.
        lockDuration: config.jobLockMs,
        stalledInterval: config.jobLockMs,
        settings: { backoffStrategy: (attemptsMade, _type, err) => retryDelay(attemptsMade, err, this.retry) },
      },
    );
    worker.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
      logger[final ? 'error' : 'warn'](
        { job: job?.name, id: job?.id, attempt: job?.attemptsMade, err },
        final ? 'notification failed; it stays in the failed list' : 'notification failed; will retry',
      );
    });
    worker.on('error', throttledErrorLog(logger, 'notifications worker error'));
    this.worker = worker;
    return worker;
  }

  /** Lets a running delivery finish (at most `graceMs`: CALLGUARD_SHUTDOWN_GRACE_SECONDS from Callguard.stop). */
  async close(graceMs: number): Promise<void> {
    if (this.worker) await closeWorker(this.worker, graceMs, this.deps.logger);
    await this.queue.close();
  }
}
