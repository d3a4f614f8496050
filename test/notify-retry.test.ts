import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { isPermanent, retryAfterMs, retryDelay } from '../src/notify/retry.js';

const s = { baseMs: 2000, maxMs: 300_000 };
const serverError = new WebAPIHTTPError(500, 'Internal Server Error', {}, 'oops');

describe('retryDelay', () => {
  it.each([
    [1, 2000],
    [2, 4000],
    [3, 8000],
    [7, 128_000],
    [8, 256_000],
    [9, 300_000],
    [20, 300_000],
  ])('after a 500, retry %i waits %i ms (doubling, capped)', (attempt, ms) => {
    expect(retryDelay(attempt, serverError, s)).toBe(ms);
  });

  it('a 429 waits exactly what Retry-After asks, shorter or longer than our own schedule', () => {
    expect(retryDelay(5, new WebAPIRateLimitedError(1), s)).toBe(1000);
    expect(retryDelay(1, new WebAPIRateLimitedError(30), s)).toBe(30_000);
  });

  it('an HTTP error carrying Retry-After (e.g. 503) honours it too', () => {
    expect(retryAfterMs(new WebAPIHTTPError(503, 'Unavailable', { 'retry-after': '7' }))).toBe(7000);
    expect(retryAfterMs(new WebAPIHTTPError(503, 'Unavailable', { 'Retry-After': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(new WebAPIRequestError(new Error('ECONNREFUSED')))).toBeUndefined();
  });
});

describe('isPermanent', () => {
  const platform = (error: string) => new WebAPIPlatformError({ ok: false, error });

  it.each([
    ['invalid_auth', true],
    ['channel_not_found', true],
    ['not_in_channel', true],
    ['invalid_blocks', true],
    ['internal_error', false],
    ['ratelimited', false],
    ['fatal_error', false],
  ])('Slack error %s is permanent: %s', (code, permanent) => expect(isPermanent(platform(code))).toBe(permanent));

  it('transport and HTTP errors are worth retrying', () => {
    expect(isPermanent(serverError)).toBe(false);
    expect(isPermanent(new WebAPIRequestError(new Error('ECONNRESET')))).toBe(false);
  });
});
