import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SLACK_ACTION_JOB, slackPrincipal } from '../src/jobs/slack-action.js';
import { createApp } from '../src/http/app.js';
import { httpDeps } from '../src/app/http-deps.js';
import type { Callguard } from '../src/app/callguard.js';
import type { Hold } from '../src/domain/types.js';
import { FAKE_TOKEN, FakeSlack, type SlackRequest } from './support/fake-slack.js';
import { settled } from './support/fences.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const SECRET = 'slack-signing-secret-for-tests';
const ADMIN = 'UADMIN1';
const OTHER_ADMIN = 'UADMIN2';
const STRANGER = 'USTRANGER';
const TWILIO = { twilio: { threshold_count: 10, window_minutes: 2, log_patterns: ['error when making call via twilio'] } };

let fake: FakeSlack;
let cg: Callguard | undefined;
let server: Server | undefined;
let base: string;

beforeEach(async () => {
  fake = await FakeSlack.start();
});

afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
  await stopTestCallguard(cg);
  cg = undefined;
  await fake.close();
});

async function start(env: Record<string, string> = {}): Promise<Callguard> {
  cg = await startTestCallguard(TWILIO, {
    SLACK_BOT_TOKEN: FAKE_TOKEN,
    SLACK_API_URL: fake.url,
    SLACK_CHANNEL: 'C0CALLS',
    SLACK_SIGNING_SECRET: SECRET,
    CALLGUARD_SLACK_ADMINS: `${ADMIN}, ${OTHER_ADMIN}`,
    CALLGUARD_REMIND_MINUTES: '0',
    ...env,
  });
  // The whole app, as npm start serves it: the route comes from the registry.
  server = createApp(httpDeps(cg)).app.listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return cg;
}

/** Pauses by hand and returns the hold and the Slack message that announced it. */
async function pausedWithMessage(c: Callguard): Promise<{ hold: Hold; message: SlackRequest }> {
  const { hold } = await c.control.pause({ by: 'alice', reason: 'carrier maintenance' });
  await waitFor(() => fake.delivered('chat.postMessage').length === 1);
  return { hold, message: fake.delivered('chat.postMessage')[0]! };
}

/** What Slack posts for a block_actions press on `message`, form-encoded. */
function pressBody(userId: string, message: SlackRequest, actionId = 'callguard_resume'): string {
  const button = message.body.blocks.find((b: any) => b.type === 'actions').elements[0];
  const payload = {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: message.body.channel, is_ephemeral: false },
    trigger_id: '123.456.abc',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: { id: message.body.channel, name: 'callguard' },
    message: { type: 'message', ts: message.ts, text: message.body.text, blocks: message.body.blocks },
    response_url: 'https://hooks.slack.invalid/actions/T0TEAM/1/xyz',
    actions: [
      { action_id: actionId, block_id: 'b1', text: button.text, value: button.value, type: 'button', action_ts: `${Date.now() / 1000}` },
    ],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** Signed here with node:crypto, so the tests check Slack's v0 scheme rather than echo our signer. */
function sign(body: string, secret = SECRET, timestamp = Math.floor(Date.now() / 1000)) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

async function post(body: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/slack/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

const slackActionJobs = async (c: Callguard) =>
  (await c.events.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).filter((j) => j.name === SLACK_ACTION_JOB);

describe('POST /slack/interactions: "Resume calls"', () => {
  it("an admin's signed press answers 200 at once; the job releases the hold as slack:<id>, audits it and rewrites the message", async () => {
    const c = await start();
    const { hold, message } = await pausedWithMessage(c);

    const body = pressBody(ADMIN, message);
    const started = Date.now();
    const res = await post(body, sign(body));
    expect(res).toMatchObject({ status: 200, text: '' });
    figure(`Slack press answered in ${Date.now() - started} ms`);
    // The answer does not wait for the release: the route only queued the job that does it.
    expect(await slackActionJobs(c)).toHaveLength(1);

    await waitFor(async () => !(await c.dispatch.get('calls')!.isPaused()));
    expect(await c.ledger.list()).toEqual([]);
    const [entry] = await c.ledger.audit();
    expect(entry).toMatchObject({
      event: 'hold-released',
      hold: hold.id,
      by: `slack:${ADMIN}`,
      reason: 'Resume calls pressed in Slack',
      resumed: ['calls'],
    });

    await waitFor(() => fake.delivered('chat.update').length === 1);
    const [update] = fake.delivered('chat.update');
    expect(update!.body).toMatchObject({ channel: 'C0CALLS', ts: message.ts });
    expect(update!.body.text).toContain(`resumed by Slack user ${ADMIN}`);
    expect(update!.body.blocks.some((b: any) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(update!.body.blocks)).toContain(`Resumed by <@${ADMIN}>`);

    // The release is a transition like any other: it gets its own "resumed" message too.
    await waitFor(() => fake.delivered('chat.postMessage').length === 2);
    const resumed = fake.delivered('chat.postMessage')[1]!;
    expect(resumed.body.text).toContain(`Resumed by: Slack user ${ADMIN}: Resume calls pressed in Slack.`);
  });

  it('a second press after the hold is gone releases nothing more and does not overwrite who resumed it', async () => {
    const c = await start();
    const { message } = await pausedWithMessage(c);
    const first = pressBody(ADMIN, message);
    expect((await post(first, sign(first))).status).toBe(200);
    await waitFor(() => fake.delivered('chat.update').length === 1);

    const second = pressBody(OTHER_ADMIN, message);
    expect((await post(second, sign(second))).status).toBe(200);
    await waitFor(async () => (await slackActionJobs(c)).filter((j) => j.finishedOn).length === 2);
    // Whatever the second press queued for Slack has been sent (or refused) by now.
    await settled(c.notifier.queue);
    expect((await c.ledger.audit()).filter((a) => a.event === 'hold-released')).toHaveLength(1);
    expect(fake.attempts('chat.update')).toHaveLength(1);
    expect(JSON.stringify(fake.delivered('chat.update')[0]!.body.blocks)).toContain(`<@${ADMIN}>`);
  });

  it('a user not in CALLGUARD_SLACK_ADMINS gets an ephemeral refusal and nothing changes', async () => {
    const c = await start();
    const { hold, message } = await pausedWithMessage(c);
    const body = pressBody(STRANGER, message);
    const res = await post(body, sign(body));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      response_type: 'ephemeral',
      replace_original: false,
      text: expect.stringContaining('only callguard admins'),
    });
    // The route queues the job before it answers, so with the answer in hand no job means none will come.
    expect(await slackActionJobs(c)).toEqual([]);
    expect((await c.ledger.list()).map((h) => h.id)).toEqual([hold.id]);
    expect(fake.attempts('chat.update')).toEqual([]);
  });

  it.each<[string, (body: string) => { body: string; headers: Record<string, string> }, string]>([
    ['a wrong secret', (body) => ({ body, headers: sign(body, 'some-other-secret') }), 'signature mismatch'],
    [
      'a stale timestamp (6 min old, correctly signed)',
      (body) => ({ body, headers: sign(body, SECRET, Math.floor(Date.now() / 1000) - 6 * 60) }),
      'timestamp too old',
    ],
    ['a tampered body', (body) => ({ body: body.replace('manual', 'rule'), headers: sign(body) }), 'signature mismatch'],
    ['no signature headers', (body) => ({ body, headers: {} }), 'missing signature header'],
  ])('%s is refused with 401 and nothing changes', async (_, make, reason) => {
    const c = await start();
    const { hold, message } = await pausedWithMessage(c);
    const { body, headers } = make(pressBody(ADMIN, message));
    const res = await post(body, headers);
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'unauthorized', message: `invalid Slack signature: ${reason}` } });
    // The route queues the job before it answers, so with the answer in hand no job means none will come.
    expect(await slackActionJobs(c)).toEqual([]);
    expect((await c.ledger.list()).map((h) => h.id)).toEqual([hold.id]);
  });

  it('a signed request without a usable payload is a 400; another button is acknowledged and ignored', async () => {
    const c = await start();
    const { hold, message } = await pausedWithMessage(c);
    const junk = 'payload=%7Bnot-json';
    expect(await post(junk, sign(junk))).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_request', message: 'payload is not JSON' } },
    });
    const other = pressBody(ADMIN, message, 'some_other_button');
    expect(await post(other, sign(other))).toMatchObject({ status: 200, text: '' });
    // The route queues the job before it answers, so with the answer in hand no job means none will come.
    expect(await slackActionJobs(c)).toEqual([]);
    expect((await c.ledger.list()).map((h) => h.id)).toEqual([hold.id]);
  });

  it('without SLACK_SIGNING_SECRET the route answers 503 and does nothing', async () => {
    const c = await start({ SLACK_SIGNING_SECRET: '' });
    const { message } = await pausedWithMessage(c);
    const body = pressBody(ADMIN, message);
    const res = await post(body, sign(body));
    expect(res.status).toBe(503);
    expect(res.json.error.message).toContain('SLACK_SIGNING_SECRET');
  });
});

describe('the slack-action job', () => {
  it('re-checks the admin list, since any BullMQ client can add jobs to the events queue', async () => {
    const c = await start();
    const { hold } = await c.control.pause({ by: 'alice', reason: 'x' });
    const bind = { jobId: 'press-1', expiresAt: Date.now() + 60_000 };
    await c.events.add(SLACK_ACTION_JOB, c.signer.sign({ userId: STRANGER, holdId: hold.id }, slackPrincipal(STRANGER), bind), {
      jobId: bind.jobId,
    });
    const [job] = await waitFor(async () => {
      const failed = (await c.events.getFailed()).filter((j) => j.name === SLACK_ACTION_JOB);
      return failed.length ? failed : undefined;
    });
    expect(job!.failedReason).toBe(`Slack user ${STRANGER} is not in CALLGUARD_SLACK_ADMINS`);
    expect(job!.attemptsMade).toBe(1);
    expect((await c.ledger.list()).map((h) => h.id)).toEqual([hold.id]);
  });

  it.each<[string, (c: Callguard, holdId: string) => unknown, RegExp]>([
    [
      'unsigned, naming an admin (a forged press from the board or a Redis client)',
      (_c, holdId) => ({ userId: ADMIN, holdId }),
      /unsigned/,
    ],
    [
      'signed for one user, naming another',
      (c, holdId) => ({
        ...c.signer.sign({ userId: STRANGER, holdId }, slackPrincipal(STRANGER), { jobId: 'press-1', expiresAt: Date.now() + 60_000 }),
        userId: ADMIN,
      }),
      /forged principal/,
    ],
    [
      'signed with another key',
      (_c, holdId) => ({ userId: ADMIN, holdId, principal: slackPrincipal(ADMIN), signature: 'b'.repeat(64) }),
      /forged principal/,
    ],
  ])('refuses a slack-action job %s (issue 10)', async (_what, data, reason) => {
    const c = await start();
    const { hold } = await c.control.pause({ by: 'alice', reason: 'x' });
    await c.events.add(SLACK_ACTION_JOB, data(c, hold.id), { jobId: 'press-1' });
    const [job] = await waitFor(async () => {
      const failed = (await c.events.getFailed()).filter((j) => j.name === SLACK_ACTION_JOB);
      return failed.length ? failed : undefined;
    });
    expect(job!.failedReason).toMatch(reason);
    expect((await c.ledger.list()).map((h) => h.id)).toEqual([hold.id]);
  });

  it('when a signed press is replayed within the window, then 409 replayed and one job (issue 10)', async () => {
    const c = await start();
    const { message } = await pausedWithMessage(c);
    const body = pressBody(ADMIN, message);
    const headers = sign(body);
    expect((await post(body, headers)).status).toBe(200);
    const again = await post(body, headers);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('replayed');
    expect(await slackActionJobs(c)).toHaveLength(1);
  });
});
