/** The `slack-action` job on the events queue: a verified "Resume calls" press, done off the HTTP path. */
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { signedFields } from './job-signer.js';
import type { JobReceipts } from '../store/job-receipts.js';
import type { JobHoldsPort, JobVerifier } from './ports.js';
import { defineJob } from './registry.js';

export const SLACK_ACTION_JOB = 'slack-action';

export const slackUserId = z.string().regex(/^[A-Z0-9]{2,32}$/, 'not a Slack user id');

export const slackActionSchema = z
  .object({
    userId: slackUserId,
    holdId: z.string().min(1).max(256),
    /** The message that carried the button, to be rewritten with the outcome. */
    message: z
      .object({
        channel: z.string().min(1),
        ts: z.string().min(1),
        text: z.string(),
        blocks: z.array(z.looseObject({ type: z.string() })).max(50),
      })
      .optional(),
    ...signedFields,
  })
  .strict();

/** The principal a verified Slack press acts as. */
export const slackPrincipal = (userId: string) => ({ name: `slack:${userId}`, role: 'slack' as const });

export type SlackAction = z.infer<typeof slackActionSchema>;

/** Rewrites the message whose "Resume calls" was pressed. */
export interface PressedPort {
  notifyPressed(p: {
    channel: string;
    ts: string;
    userId: string;
    released: boolean;
    at: number;
    original: { text: string; blocks: Array<{ type: string }> };
  }): Promise<void>;
}

export function slackActionJob(deps: {
  holds: Pick<JobHoldsPort, 'releaseIds'>;
  messages: PressedPort;
  admins: string[];
  verifier: JobVerifier;
  receipts: Pick<JobReceipts, 'handled' | 'record'>;
  /** Redis' clock (ms). */
  now: () => Promise<number>;
}) {
  return defineJob({
    name: SLACK_ACTION_JOB,
    schema: slackActionSchema,
    async handler(action, job) {
      // Only the HTTP route, after checking Slack's signature, can vouch for who pressed.
      const verified = deps.verifier.verify(job.data, job, await deps.now());
      if (!verified.ok) throw new UnrecoverableError(`slack-action refused: forged principal: ${verified.reason}`);
      if (!verified.principal)
        throw new UnrecoverableError('slack-action refused: unsigned; only a verified Slack press may release a hold');
      if (verified.principal.name !== slackPrincipal(action.userId).name)
        throw new UnrecoverableError(`slack-action refused: signed for ${verified.principal.name}, names ${action.userId}`);
      // The HTTP route checked this too; the events queue is open to any BullMQ client, so check again.
      if (!deps.admins.includes(action.userId))
        throw new UnrecoverableError(`Slack user ${action.userId} is not in CALLGUARD_SLACK_ADMINS`);
      if (await deps.receipts.handled(job.id!)) throw new UnrecoverableError(`slack-action refused: job ${job.id} was already carried out`);
      const { released } = await deps.holds.releaseIds([action.holdId], `slack:${action.userId}`, 'Resume calls pressed in Slack');
      if (action.message) {
        const { channel, ts, text, blocks } = action.message;
        await deps.messages.notifyPressed({
          channel,
          ts,
          userId: action.userId,
          released: released.length > 0,
          at: Date.now(),
          original: { text, blocks },
        });
      }
      if (action.expires_at !== undefined) await deps.receipts.record(job.id!, action.expires_at);
      return { released: released.map((h) => h.id) };
    },
  });
}
