/**
 * POST /slack/interactions: Slack's signed button presses. The route checks the signature over the
 * raw bytes and the presser, enqueues a `slack-action` job and answers at once, because Slack
 * gives up after 3 seconds; releasing the hold and updating the message happen in the job.
 */
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { AuthError, ConfigError, ValidationError } from '../../domain/errors.js';
import { sendError } from '../middleware/error-handler.js';
import { formatIssues } from '../../domain/zod-issues.js';
import { REPLAY_WINDOW_MS, verifySlackSignature } from '../middleware/signature.js';
import type { Logger } from '../../ops/logger.js';
import type { SlackPort } from '../api/ports.js';
import { RESUME_ACTION_ID, SLACK_BLOCKS_MAX } from '../../notify/messages.js';
import { safeId } from '../../notify/deliveries.js';
import { slackUserId, type SlackAction } from '../../jobs/slack-action.js';
import { ReplayedError } from '../middleware/errors.js';

export interface SlackInteractionsOptions {
  /** Largest request body accepted (express.raw syntax); Slack's payloads are a few kB. */
  bodyLimit?: string;
}

const payloadSchema = z.looseObject({
  type: z.string(),
  user: z.looseObject({ id: slackUserId }),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().optional(), action_ts: z.string().optional() })).default([]),
  container: z.looseObject({ channel_id: z.string().optional(), message_ts: z.string().optional() }).optional(),
  channel: z.looseObject({ id: z.string() }).optional(),
  message: z
    .looseObject({ ts: z.string(), text: z.string().default(''), blocks: z.array(z.looseObject({ type: z.string() })).default([]) })
    .optional(),
});

type Payload = z.infer<typeof payloadSchema>;

/**
 * Mount with `app.use('/slack/interactions', createSlackInteractionsRouter(slack, logger))` BEFORE any
 * app-wide body parser: the signature covers the exact bytes Slack sent.
 */
export function createSlackInteractionsRouter(slack: SlackPort, logger: Logger, opts: SlackInteractionsOptions = {}): Router {
  const router = express.Router();
  const log = logger.child({ component: 'slack-interactions' });

  router.post('/', express.raw({ type: () => true, limit: opts.bodyLimit ?? '256kb' }), async (req: Request, res: Response) => {
    const secret = slack.signingSecret;
    if (!secret) return sendError(res, new ConfigError('Slack interactions are not configured (SLACK_SIGNING_SECRET is unset)'), 503);
    if (!Buffer.isBuffer(req.body)) {
      log.error('request body was parsed before the Slack router; mount it before any body parser');
      return sendError(res, new ConfigError('the raw request body is not available'));
    }
    const verified = verifySlackSignature(req.body, req.get('x-slack-request-timestamp'), req.get('x-slack-signature'), secret);
    if (!verified.ok) {
      log.warn({ reason: verified.reason, ip: req.ip }, 'rejected a Slack interaction');
      return sendError(res, new AuthError(`invalid Slack signature: ${verified.reason}`));
    }
    // A captured press replayed inside the 5-minute window would release the hold again.
    if (!(await slack.replay.firstUse('slack', verified.signature, verified.validUntil, REPLAY_WINDOW_MS))) {
      log.warn({ ip: req.ip }, 'refused a replayed Slack interaction');
      return sendError(res, new ReplayedError('this Slack request was already accepted'));
    }

    const payload = parsePayload(req.body);
    if (!payload.ok) return sendError(res, new ValidationError(payload.message));
    const action = payload.value.actions.find((a) => a.action_id === RESUME_ACTION_ID);
    if (payload.value.type !== 'block_actions' || !action?.value) return res.status(200).end();

    const userId = payload.value.user.id;
    if (!slack.admins.includes(userId)) {
      log.warn({ user: userId, hold: action.value }, 'Slack user not in CALLGUARD_SLACK_ADMINS pressed Resume');
      return ephemeral(res, `Sorry <@${userId}>, only callguard admins (CALLGUARD_SLACK_ADMINS) can resume calls. Nothing was changed.`);
    }

    const job: SlackAction = { userId, holdId: action.value, ...messageOf(payload.value) };
    try {
      // Slack may deliver the same press twice; the action timestamp makes it one job.
      const jobId = action.action_ts ? `slack-action-${userId}-${safeId(action.action_ts)}` : undefined;
      await slack.enqueueAction(job, jobId);
    } catch (err) {
      log.error({ err, user: userId, hold: action.value }, 'could not enqueue a Slack resume');
      return ephemeral(res, 'callguard could not queue the resume right now. Try again, or resume through the admin API.');
    }
    log.info({ user: userId, hold: action.value }, 'Slack resume accepted');
    return res.status(200).end();
  });

  return router;
}

function parsePayload(raw: Buffer): { ok: true; value: Payload } | { ok: false; message: string } {
  const field = new URLSearchParams(raw.toString('utf8')).get('payload');
  if (field === null) return { ok: false, message: 'expected a form-encoded "payload" field' };
  let json: unknown;
  try {
    json = JSON.parse(field);
  } catch {
    return { ok: false, message: 'payload is not JSON' };
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) return { ok: false, message: `invalid payload: ${formatIssues(parsed.error, { whole: 'payload' })}` };
  return { ok: true, value: parsed.data };
}

function messageOf(p: Payload): Pick<SlackAction, 'message'> {
  const channel = p.container?.channel_id ?? p.channel?.id;
  const ts = p.message?.ts ?? p.container?.message_ts;
  if (!channel || !ts || !p.message) return {};
  return { message: { channel, ts, text: p.message.text, blocks: p.message.blocks.slice(0, SLACK_BLOCKS_MAX) } };
}

/** A reply only the presser sees; the message in the channel stays as it was. */
function ephemeral(res: Response, text: string): void {
  res.status(200).json({ response_type: 'ephemeral', replace_original: false, text });
}
