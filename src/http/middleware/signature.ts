/** HMAC-SHA256 webhook signatures: Grafana alerting, callguard's own header, Slack v0. Pure. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../domain/errors.js';

/**
 * `signature`: the verified hex, to remember against replays; `validUntil`: ms after which the
 * timestamp leaves the window (absent for Grafana's untimed, body-only signatures).
 */
export type VerifyResult = { ok: true; signature: string; validUntil?: number } | { ok: false; reason: string };

/** Accepted clock difference between signer and us, either direction. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/**
 * Grafana signs the raw body, or `<timestamp>:<body>` when its contact point has a timestamp header
 * configured (unix seconds); the signature is bare hex, no `sha256=` prefix.
 */
export function verifyGrafanaSignature(
  rawBody: Buffer,
  header: string | undefined,
  secret: string,
  timestampHeader?: string,
  nowMs: number = Date.now(),
): VerifyResult {
  if (!secret) return fail('no secret configured');
  if (!header) return fail('missing signature header');
  const signature = header.trim();
  if (!HEX_SHA256.test(signature)) return fail('malformed signature header');
  if (timestampHeader === undefined) return compare(hmac(secret, rawBody), signature);
  const timestamp = timestampHeader.trim();
  const stale = checkTimestamp(timestamp, nowMs);
  if (stale) return stale;
  return compare(hmac(secret, `${timestamp}:`, rawBody), signature, timestamp);
}

/** `X-Callguard-Signature: t=<unix seconds>,v1=<hex HMAC of "<t>.<raw body>">`. */
export function signCallguard(rawBody: Buffer, secret: string, nowMs: number = Date.now()): string {
  requireSecret(secret);
  const t = String(Math.floor(nowMs / 1000));
  return `t=${t},v1=${hmac(secret, `${t}.`, rawBody)}`;
}

export function verifyCallguardSignature(
  rawBody: Buffer,
  header: string | undefined,
  secret: string,
  nowMs: number = Date.now(),
): VerifyResult {
  if (!secret) return fail('no secret configured');
  if (!header) return fail('missing signature header');
  const parts = parseCallguardHeader(header);
  if (!parts) return fail('malformed signature header');
  const stale = checkTimestamp(parts.t, nowMs);
  if (stale) return stale;
  return compare(hmac(secret, `${parts.t}.`, rawBody), parts.v1, parts.t);
}

/** Slack v0: `v0=` + hex HMAC of `v0:<X-Slack-Request-Timestamp>:<raw body>`. */
export function signSlack(rawBody: Buffer, secret: string, nowMs: number = Date.now()): { timestamp: string; signature: string } {
  requireSecret(secret);
  const timestamp = String(Math.floor(nowMs / 1000));
  return { timestamp, signature: `v0=${hmac(secret, `v0:${timestamp}:`, rawBody)}` };
}

export function verifySlackSignature(
  rawBody: Buffer,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  secret: string,
  nowMs: number = Date.now(),
): VerifyResult {
  if (!secret) return fail('no secret configured');
  if (!signatureHeader) return fail('missing signature header');
  if (!timestampHeader) return fail('missing timestamp header');
  const header = signatureHeader.trim();
  const signature = header.slice('v0='.length);
  if (!header.startsWith('v0=') || !HEX_SHA256.test(signature)) return fail('malformed signature header');
  const timestamp = timestampHeader.trim();
  const stale = checkTimestamp(timestamp, nowMs);
  if (stale) return stale;
  return compare(hmac(secret, `v0:${timestamp}:`, rawBody), signature, timestamp);
}

function parseCallguardHeader(header: string): { t: string; v1: string } | undefined {
  const fields = new Map<string, string>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    if (fields.has(key)) return undefined;
    fields.set(key, part.slice(eq + 1).trim());
  }
  const t = fields.get('t');
  const v1 = fields.get('v1');
  if (t === undefined || v1 === undefined || !HEX_SHA256.test(v1)) return undefined;
  return { t, v1 };
}

function checkTimestamp(value: string, nowMs: number): VerifyResult | undefined {
  if (!UNIX_SECONDS.test(value)) return fail('malformed timestamp');
  const skewMs = nowMs - Number(value) * 1000;
  if (skewMs > REPLAY_WINDOW_MS) return fail('timestamp too old');
  if (skewMs < -REPLAY_WINDOW_MS) return fail('timestamp in the future');
  return undefined;
}

function hmac(secret: string, ...parts: Array<string | Buffer>): string {
  const mac = createHmac('sha256', secret);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
}

// Both sides are 32 bytes here (the format was checked first), so timingSafeEqual never throws.
function compare(expectedHex: string, givenHex: string, timestamp?: string): VerifyResult {
  const expected = Buffer.from(expectedHex, 'hex');
  const given = Buffer.from(givenHex, 'hex');
  if (!timingSafeEqual(expected, given)) return fail('signature mismatch');
  const signature = givenHex.toLowerCase();
  return timestamp === undefined
    ? { ok: true, signature }
    : { ok: true, signature, validUntil: Number(timestamp) * 1000 + REPLAY_WINDOW_MS };
}

function fail(reason: string): VerifyResult {
  return { ok: false, reason };
}

function requireSecret(secret: string): void {
  if (!secret) throw new ConfigError('cannot sign with an empty secret');
}
