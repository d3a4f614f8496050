import express, { type RequestHandler } from 'express';
import { AuthError, ConfigError } from '../../domain/errors.js';
import type { Logger } from '../../ops/logger.js';
import type { SlackPort } from '../api/ports.js';
import { sendError } from './error-handler.js';
import { ReplayedError } from './errors.js';
import { REPLAY_WINDOW_MS, verifySlackSignature } from './signature.js';

/** Slack's payloads are a few kB. */
const BODY_LIMIT = '256kb';

/**
 * Authenticates Slack's requests: the signature over the exact bytes Slack sent (read raw, before
 * anything parses them), each signed request accepted once. Leaves the raw body in req.body.
 */
export function slackSignature(slack: Pick<SlackPort, 'signingSecret' | 'replay'>, logger: Logger): RequestHandler[] {
  const log = logger.child({ component: 'slack-interactions' });
  const check: RequestHandler = async (req, res, next) => {
    const secret = slack.signingSecret;
    if (!secret) return sendError(res, new ConfigError('Slack interactions are not configured (SLACK_SIGNING_SECRET is unset)'), 503);
    if (!Buffer.isBuffer(req.body)) {
      log.error('request body was parsed before the Slack route; nothing may parse it first');
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
    return next();
  };
  return [express.raw({ type: () => true, limit: BODY_LIMIT }), check];
}
