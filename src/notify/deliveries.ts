/** What each job on the notifications queue does: gather the facts at send time, render, send. */
import type { Job, Queue } from 'bullmq';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { Keys } from '../store/keys.js';
import type { CallguardRedis } from '../store/redis.js';
import { covers, isPausing, parseTarget, queuesOf, type Hold } from '../domain/hold.js';
import type { Rule } from '../domain/types.js';
import { routeOf } from '../store/guard.js';
import {
  stateLostMessage,
  silenceMessage,
  rulesPublishedMessage,
  pausedMessage,
  pressedMessage,
  probePassedMessage,
  resumedMessage,
  stillPausedMessage,
  wouldPauseMessage,
  type EchoedMessage,
  type MessageSettings,
} from './messages.js';
import type { Posted, Sender, SlackSettings } from './sender.js';

export const NOTIFY_JOB = {
  change: 'hold-change',
  remind: 'remind',
  stillPaused: 'still-paused',
  pressed: 'resume-pressed',
  stateLost: 'state-lost',
  silence: 'silence',
  rules: 'rules-published',
} as const;

export interface ChangeJob {
  change: HoldChange;
  /** The probe hold that replaced a released pause hold in the same step (half-open resume). */
  probe?: Hold;
}
export interface StillPausedJob {
  holdId: string;
}
export interface PressedJob extends Posted {
  userId: string;
  released: boolean;
  at: number;
  original: EchoedMessage;
}

/** The part of callguard's configuration notifications read. */
export interface NotifySettings {
  /** callguard's own key prefix (the notifications queue lives under it). */
  prefix: string;
  minuteMs: number;
  queues: string[];
  autoResumeMinutes: number;
  remindMinutes: number;
  /** BullMQ lock duration and stalled-check interval of the notifications worker. */
  jobLockMs: number;
  slack: SlackSettings;
}

export interface DeliveryDeps {
  config: NotifySettings;
  redis: CallguardRedis;
  keys: Keys;
  ledger: HoldLedger;
  dispatch: Map<string, Queue>;
  sender: Sender;
  /** The notifications queue, where reminder ticks enqueue one job per message. */
  queue: Queue;
  /** The rules in force (a live array), for how a rule hold will be lifted. */
  rules?: readonly Rule[];
}

/** Where the newly held providers' calls go: the candidates guards noted after them. */
async function failoverRoutes(d: DeliveryDeps, paused: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const target of paused) {
    const { provider } = parseTarget(target);
    if (!provider) continue;
    const to = await routeOf(d.redis, d.keys, target);
    if (to.length) out[provider] = [...new Set([...(out[provider] ?? []), ...to])];
  }
  return out;
}

/** BullMQ job ids may not contain ':', which hold ids and scheduler job ids do. */
export const safeId = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

export function deliveries(d: DeliveryDeps): Record<string, (job: Job) => Promise<unknown>> {
  const settings: MessageSettings = { queues: d.config.queues, autoResumeMinutes: d.config.autoResumeMinutes, rules: d.rules };

  return {
    [NOTIFY_JOB.change]: async (job) => {
      const { change, probe } = job.data as ChangeJob;
      if (!isNotified(change)) return { skipped: change.event };
      const queues = queuesOf(change.hold.scope, d.config.queues);
      const others = (await d.ledger.list()).filter((h) => h.id !== change.hold.id && isPausing(h) && queues.some((q) => covers(h, q)));
      if (change.event === 'would-pause') {
        return d.sender.post(wouldPauseMessage({ hold: change.hold, waiting: await waitingCounts(d.dispatch, queues) }, settings));
      }
      if (change.event === 'probe-ended') {
        return d.sender.post(probePassedMessage({ hold: change.hold, at: auditTime(change.auditId) }, settings));
      }
      if (change.event === 'hold-added' || change.event === 'throttle-started') {
        const waiting = await waitingCounts(d.dispatch, queues);
        const failover = await failoverRoutes(d, change.paused);
        return d.sender.post(pausedMessage({ hold: change.hold, paused: change.paused, waiting, otherHolds: others, failover }, settings));
      }
      const entry = { by: change.by, reason: change.reason, at: auditTime(change.auditId) };
      return d.sender.post(
        resumedMessage(
          {
            hold: change.hold,
            resumed: change.resumed,
            ...entry,
            stillHeld: others,
            ...(probe ? { probe } : {}),
            failedOver: change.failedOver ?? 0,
          },
          settings,
        ),
      );
    },

    [NOTIFY_JOB.stateLost]: async (job) => d.sender.post(stateLostMessage({ at: (job.data as { at: number }).at })),

    [NOTIFY_JOB.silence]: async (job) => d.sender.post(silenceMessage(job.data as Parameters<typeof silenceMessage>[0])),

    [NOTIFY_JOB.rules]: async (job) => d.sender.post(rulesPublishedMessage(job.data as Parameters<typeof rulesPublishedMessage>[0])),

    [NOTIFY_JOB.remind]: async (job) => {
      const periodMs = d.config.remindMinutes * d.config.minuteMs;
      const [holds, now] = await Promise.all([d.ledger.list(), d.ledger.now()]);
      const due = holds.filter((h) => h.kind === 'manual' && isPausing(h) && now - h.since >= periodMs);
      await d.queue.addBulk(
        due.map((h) => ({
          name: NOTIFY_JOB.stillPaused,
          data: { holdId: h.id } satisfies StillPausedJob,
          opts: { jobId: `still-paused-${safeId(h.id)}-${safeId(job.id ?? String(now))}` },
        })),
      );
      return { reminders: due.map((h) => h.id) };
    },

    [NOTIFY_JOB.stillPaused]: async (job) => {
      const { holdId } = job.data as StillPausedJob;
      const hold = (await d.ledger.list()).find((h) => h.id === holdId);
      if (!hold) return { skipped: `${holdId} was released` };
      const queues = queuesOf(hold.scope, d.config.queues);
      const [now, waiting] = await Promise.all([d.ledger.now(), waitingCounts(d.dispatch, queues)]);
      return d.sender.post(stillPausedMessage({ hold, now, waiting }, settings));
    },

    [NOTIFY_JOB.pressed]: async (job) => {
      const p = job.data as PressedJob;
      await d.sender.update({ channel: p.channel, ts: p.ts }, pressedMessage(p.original, p));
      return { updated: p.ts };
    },
  };
}

/**
 * Messages follow pauses and resumes. Shadow holds ("would have paused") and the start and end of
 * a probe have no message of their own yet; a probe shows up in the resume it belongs to.
 */
/**
 * Pauses, resumes, shadow trips and passed probes get a message. A probe that ended because the
 * rule tripped again is told by the pause message that follows it in the same change set.
 */
export function isNotified(change: HoldChange, batch: HoldChange[] = [change]): boolean {
  if (change.event === 'probe-ended') return !batch.some((c) => c.event === 'hold-added' && c.hold.id === change.hold.id);
  return ['hold-added', 'hold-released', 'would-pause', 'throttle-started', 'throttle-ended'].includes(change.event);
}

/** A count that cannot be read is left out of the message rather than failing the notice. */
async function waitingCounts(dispatch: Map<string, Queue>, queues: string[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    queues.map(
      async (q) =>
        [
          q,
          await dispatch
            .get(q)
            ?.getWaitingCount()
            .catch(() => undefined),
        ] as const,
    ),
  );
  return Object.fromEntries(entries.filter((e): e is readonly [string, number] => e[1] !== undefined));
}

/** A stream entry id starts with the Redis-clock milliseconds at which the change was made. */
function auditTime(auditId: string): number {
  return Number(auditId.split('-')[0]);
}
