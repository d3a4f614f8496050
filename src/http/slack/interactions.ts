/**
 * POST /slack/interactions: Slack's signed button presses. The signature over the raw bytes is
 * checked by the route's access (middleware/slack-signature.ts); the route checks the presser,
 * enqueues a `slack-action` job and answers at once, because Slack gives up after 3 seconds;
 * releasing the hold and updating the message happen in the job.
 */
import { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import { formatIssues } from '../../domain/zod-issues.js';
import { route } from '../api/route.js';
import { errorViewSchema, slackReplyViewSchema } from '../api/views.js';
import { RESUME_ACTION_ID, SLACK_BLOCKS_MAX } from '../../notify/messages.js';
import { safeId } from '../../notify/deliveries.js';
import { slackUserId, type SlackAction } from '../../jobs/slack-action.js';

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

/** A reply only the presser sees; the message in the channel stays as it was. */
const ephemeral = (text: string) => ({
  status: 200 as const,
  json: { response_type: 'ephemeral' as const, replace_original: false, text },
});

export const slackRoutes = [
  route({
    method: 'post',
    path: '/slack/interactions',
    operationId: 'postSlackInteraction',
    tag: 'slack',
    summary: 'Slack button presses (Resume)',
    description:
      'Answers at once; the resume runs as a slack-action job. Only CALLGUARD_SLACK_ADMINS may resume; others get an ephemeral reply.',
    access: 'slack',
    form: z.object({ payload: z.string().meta({ description: 'Slack’s JSON payload.' }) }),
    responses: {
      200: { description: 'Accepted (empty body), or an ephemeral reply to the presser.', schema: slackReplyViewSchema, empty: true },
      409: { description: 'replayed: this signed Slack request was already accepted.', schema: errorViewSchema },
      503: { description: 'SLACK_SIGNING_SECRET is not set.', schema: errorViewSchema },
    },
    shared: ['BadRequest', 'Unauthorized', 'PayloadTooLarge', 'UnsupportedMediaType'],
  }).handle(async ({ req, deps }) => {
    const log = deps.logger.child({ component: 'slack-interactions' });
    const payload = parsePayload(req.body as Buffer);
    const action = payload.actions.find((a) => a.action_id === RESUME_ACTION_ID);
    if (payload.type !== 'block_actions' || !action?.value) return { status: 200, empty: true };

    const userId = payload.user.id;
    if (!deps.slack.admins.includes(userId)) {
      log.warn({ user: userId, hold: action.value }, 'Slack user not in CALLGUARD_SLACK_ADMINS pressed Resume');
      return ephemeral(`Sorry <@${userId}>, only callguard admins (CALLGUARD_SLACK_ADMINS) can resume calls. Nothing was changed.`);
    }

    const job: SlackAction = { userId, holdId: action.value, ...messageOf(payload) };
    try {
      // Slack may deliver the same press twice; the action timestamp makes it one job.
      const jobId = action.action_ts ? `slack-action-${userId}-${safeId(action.action_ts)}` : undefined;
      await deps.slack.enqueueAction(job, jobId);
    } catch (err) {
      log.error({ err, user: userId, hold: action.value }, 'could not enqueue a Slack resume');
      return ephemeral('callguard could not queue the resume right now. Try again, or resume through the admin API.');
    }
    log.info({ user: userId, hold: action.value }, 'Slack resume accepted');
    return { status: 200, empty: true };
  }),
];

function parsePayload(raw: Buffer): Payload {
  const field = new URLSearchParams(raw.toString('utf8')).get('payload');
  if (field === null) throw new ValidationError('expected a form-encoded "payload" field');
  let json: unknown;
  try {
    json = JSON.parse(field);
  } catch {
    throw new ValidationError('payload is not JSON');
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) throw new ValidationError(`invalid payload: ${formatIssues(parsed.error, { whole: 'payload' })}`);
  return parsed.data;
}

function messageOf(p: Payload): Pick<SlackAction, 'message'> {
  const channel = p.container?.channel_id ?? p.channel?.id;
  const ts = p.message?.ts ?? p.container?.message_ts;
  if (!channel || !ts || !p.message) return {};
  return { message: { channel, ts, text: p.message.text, blocks: p.message.blocks.slice(0, SLACK_BLOCKS_MAX) } };
}
