/** When and whether a failed Slack call is tried again. Pure. */
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError } from '@slack/web-api';

export interface RetrySettings {
  /** Delay before the first retry; each further one doubles it. */
  baseMs: number;
  /** No single wait is longer than this, except what Slack itself asks for. */
  maxMs: number;
}

/** The backoff type name the notifications queue's jobs carry; BullMQ looks it up in the worker's settings. */
export const SLACK_BACKOFF = 'slack';

/**
 * Delay before retry number `attemptsMade` (1 for the first retry). Slack's Retry-After wins over
 * our own schedule in both directions: sooner would be refused again, later wastes the window.
 */
export function retryDelay(attemptsMade: number, err: unknown, s: RetrySettings): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return asked;
  return Math.min(s.maxMs, Math.round(s.baseMs * 2 ** Math.max(0, attemptsMade - 1)));
}

/** Slack's Retry-After, in ms, from a rate-limited call or any HTTP error that carries the header. */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof WebAPIRateLimitedError) return err.retryAfter * 1000;
  if (err instanceof WebAPIHTTPError) {
    const header = Object.entries(err.headers).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
    const seconds = header === undefined ? NaN : Number.parseInt(header, 10);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  }
  return undefined;
}

// Errors that another attempt cannot fix: the token, the channel or the message itself is wrong.
const PERMANENT = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_arguments',
  'msg_too_long',
  'no_text',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
]);

export function isPermanent(err: unknown): boolean {
  return err instanceof WebAPIPlatformError && PERMANENT.has(err.data.error);
}
