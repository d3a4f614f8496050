import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/domain/errors.js';
import {
  REPLAY_WINDOW_MS,
  signCallguard,
  signSlack,
  verifyCallguardSignature,
  verifyGrafanaSignature,
  verifySlackSignature,
  type VerifyResult,
} from '../src/http/middleware/signature.js';

const SECRET = 'test-secret';
const NOW = Date.UTC(2025, 2, 4, 12, 0, 0);
const T = String(NOW / 1000);
const BODY = Buffer.from(JSON.stringify({ rule: 'twilio', status: 'firing' }));
const TAMPERED = Buffer.from(JSON.stringify({ rule: 'twilio', status: 'resolved' }));

/** Computed here with node:crypto directly, so the tests check the scheme rather than echo our signer. */
const hmacHex = (secret: string, message: string | Buffer) => createHmac('sha256', secret).update(message).digest('hex');

// A valid signature also reports the verified hex and, when timed, how long it could be replayed.
const OK = expect.objectContaining({ ok: true }) as unknown as VerifyResult;
const failed = (reason: string): VerifyResult => ({ ok: false, reason });
const secondsFromNow = (s: number) => String(NOW / 1000 + s);

describe('verifyGrafanaSignature', () => {
  const bodySig = hmacHex(SECRET, BODY);
  const tsSig = (ts: string, body: Buffer = BODY) => hmacHex(SECRET, `${ts}:${body.toString()}`);
  const window = REPLAY_WINDOW_MS / 1000;

  it.each<[string, Buffer, string | undefined, string | undefined, string, VerifyResult]>([
    ['valid, body only', BODY, bodySig, undefined, SECRET, OK],
    ['valid, timestamp:body', BODY, tsSig(T), T, SECRET, OK],
    ['valid, uppercase hex', BODY, bodySig.toUpperCase(), undefined, SECRET, OK],
    ['valid, at the edge of the window', BODY, tsSig(secondsFromNow(-window)), secondsFromNow(-window), SECRET, OK],
    ['wrong secret', BODY, hmacHex('other-secret', BODY), undefined, SECRET, failed('signature mismatch')],
    ['tampered body', TAMPERED, bodySig, undefined, SECRET, failed('signature mismatch')],
    ['tampered body with timestamp', TAMPERED, tsSig(T), T, SECRET, failed('signature mismatch')],
    ['body-only signature sent with a timestamp', BODY, bodySig, T, SECRET, failed('signature mismatch')],
    ['timestamp changed after signing', BODY, tsSig(T), secondsFromNow(1), SECRET, failed('signature mismatch')],
    ['stale timestamp', BODY, tsSig(secondsFromNow(-window - 1)), secondsFromNow(-window - 1), SECRET, failed('timestamp too old')],
    ['future timestamp', BODY, tsSig(secondsFromNow(window + 1)), secondsFromNow(window + 1), SECRET, failed('timestamp in the future')],
    ['missing header', BODY, undefined, undefined, SECRET, failed('missing signature header')],
    ['empty header', BODY, '', undefined, SECRET, failed('missing signature header')],
    ['sha256= prefix', BODY, `sha256=${bodySig}`, undefined, SECRET, failed('malformed signature header')],
    ['short hex', BODY, bodySig.slice(0, 40), undefined, SECRET, failed('malformed signature header')],
    ['non-hex', BODY, 'z'.repeat(64), undefined, SECRET, failed('malformed signature header')],
    ['malformed timestamp', BODY, tsSig('soon'), 'soon', SECRET, failed('malformed timestamp')],
    ['milliseconds timestamp', BODY, tsSig(String(NOW)), String(NOW), SECRET, failed('malformed timestamp')],
    ['no secret configured', BODY, hmacHex('', BODY), undefined, '', failed('no secret configured')],
  ])('%s', (_, body, header, timestamp, secret, expected) => {
    expect(verifyGrafanaSignature(body, header, secret, timestamp, NOW)).toEqual(expected);
  });
});

describe('signCallguard / verifyCallguardSignature', () => {
  const header = signCallguard(BODY, SECRET, NOW);
  const v1 = hmacHex(SECRET, `${T}.${BODY.toString()}`);

  it('produces t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">', () => {
    expect(header).toBe(`t=${T},v1=${v1}`);
  });

  it('truncates milliseconds to whole seconds', () => {
    expect(signCallguard(BODY, SECRET, NOW + 999)).toBe(header);
  });

  it.each<[string, Buffer, string | undefined, number, VerifyResult]>([
    ['valid', BODY, header, NOW, OK],
    ['valid, signer 5 minutes behind', BODY, header, NOW + REPLAY_WINDOW_MS, OK],
    ['valid, signer 5 minutes ahead', BODY, header, NOW - REPLAY_WINDOW_MS, OK],
    ['valid, fields reordered and spaced', BODY, ` v1=${v1} , t=${T} `, NOW, OK],
    ['valid, unknown extra field', BODY, `t=${T},v1=${v1},v2=abc`, NOW, OK],
    ['wrong secret', BODY, signCallguard(BODY, 'other-secret', NOW), NOW, failed('signature mismatch')],
    ['tampered body', TAMPERED, header, NOW, failed('signature mismatch')],
    ['timestamp changed after signing', BODY, `t=${secondsFromNow(60)},v1=${v1}`, NOW, failed('signature mismatch')],
    ['stale timestamp', BODY, header, NOW + REPLAY_WINDOW_MS + 1000, failed('timestamp too old')],
    ['future timestamp', BODY, header, NOW - REPLAY_WINDOW_MS - 1000, failed('timestamp in the future')],
    ['missing header', BODY, undefined, NOW, failed('missing signature header')],
    ['empty header', BODY, '', NOW, failed('missing signature header')],
    ['no t', BODY, `v1=${v1}`, NOW, failed('malformed signature header')],
    ['no v1', BODY, `t=${T}`, NOW, failed('malformed signature header')],
    ['duplicate t', BODY, `t=${T},t=${T},v1=${v1}`, NOW, failed('malformed signature header')],
    ['short v1', BODY, `t=${T},v1=${v1.slice(1)}`, NOW, failed('malformed signature header')],
    ['not key=value', BODY, `${T}.${v1}`, NOW, failed('malformed signature header')],
    ['non-numeric t', BODY, `t=now,v1=${v1}`, NOW, failed('malformed timestamp')],
    ['negative t', BODY, `t=-${T},v1=${v1}`, NOW, failed('malformed timestamp')],
  ])('%s', (_, body, value, now, expected) => {
    expect(verifyCallguardSignature(body, value, SECRET, now)).toEqual(expected);
  });

  it('refuses to verify or sign with an empty secret', () => {
    expect(verifyCallguardSignature(BODY, header, '', NOW)).toEqual(failed('no secret configured'));
    expect(() => signCallguard(BODY, '', NOW)).toThrow(ConfigError);
  });
});

describe('signSlack / verifySlackSignature', () => {
  // The worked example from Slack's "Verifying requests from Slack" page.
  const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
  const DOC_TS = '1531420618';
  const DOC_BODY = Buffer.from(
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  );
  const DOC_SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

  it("reproduces and accepts Slack's documented example", () => {
    const nowMs = Number(DOC_TS) * 1000;
    expect(signSlack(DOC_BODY, DOC_SECRET, nowMs)).toEqual({ timestamp: DOC_TS, signature: DOC_SIG });
    expect(verifySlackSignature(DOC_BODY, DOC_TS, DOC_SIG, DOC_SECRET, nowMs)).toEqual(OK);
  });

  const { timestamp, signature } = signSlack(BODY, SECRET, NOW);

  it.each<[string, Buffer, string | undefined, string | undefined, number, VerifyResult]>([
    ['valid', BODY, timestamp, signature, NOW, OK],
    ['valid, 5 minutes later', BODY, timestamp, signature, NOW + REPLAY_WINDOW_MS, OK],
    ['wrong secret', BODY, timestamp, signSlack(BODY, 'other-secret', NOW).signature, NOW, failed('signature mismatch')],
    ['tampered body', TAMPERED, timestamp, signature, NOW, failed('signature mismatch')],
    ['timestamp changed after signing', BODY, secondsFromNow(30), signature, NOW, failed('signature mismatch')],
    ['stale timestamp', BODY, timestamp, signature, NOW + REPLAY_WINDOW_MS + 1000, failed('timestamp too old')],
    ['future timestamp', BODY, timestamp, signature, NOW - REPLAY_WINDOW_MS - 1000, failed('timestamp in the future')],
    ['missing signature', BODY, timestamp, undefined, NOW, failed('missing signature header')],
    ['missing timestamp', BODY, undefined, signature, NOW, failed('missing timestamp header')],
    ['no v0= prefix', BODY, timestamp, signature.slice(3), NOW, failed('malformed signature header')],
    ['other version', BODY, timestamp, `v1=${signature.slice(3)}`, NOW, failed('malformed signature header')],
    ['truncated', BODY, timestamp, signature.slice(0, -2), NOW, failed('malformed signature header')],
    ['trailing junk', BODY, timestamp, `${signature}=x`, NOW, failed('malformed signature header')],
    ['malformed timestamp', BODY, '1e9', signature, NOW, failed('malformed timestamp')],
  ])('%s', (_, body, ts, sig, now, expected) => {
    expect(verifySlackSignature(body, ts, sig, SECRET, now)).toEqual(expected);
  });

  it('signs v0:<timestamp>:<body>', () => {
    expect(signature).toBe(`v0=${hmacHex(SECRET, `v0:${T}:${BODY.toString()}`)}`);
  });
});

describe('never throws on hostile header values', () => {
  const odd = ['a', 'ab'.repeat(33), 'f'.repeat(63), 'f'.repeat(65), '\u00e9'.repeat(64), 'v0=', 't=,v1=', '=,=,='];

  it.each(odd)('%j', (value) => {
    expect(verifyGrafanaSignature(BODY, value, SECRET, undefined, NOW).ok).toBe(false);
    expect(verifyGrafanaSignature(BODY, value, SECRET, value, NOW).ok).toBe(false);
    expect(verifyCallguardSignature(BODY, value, SECRET, NOW).ok).toBe(false);
    expect(verifySlackSignature(BODY, value, value, SECRET, NOW).ok).toBe(false);
  });
});
