import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOB } from '../src/jobs/contract.js';
import { createLogger } from '../src/ops/logger.js';
import { NOTIFY_ATTEMPTS } from '../src/notify/notifier.js';
import { NOTIFY_JOB } from '../src/notify/deliveries.js';
import type { HoldChange } from '../src/store/holds.js';
import { createCallguard, type Callguard } from '../src/app/callguard.js';
import { FAKE_TOKEN, FakeSlack, type SlackRequest } from './support/fake-slack.js';
import { finished, runsAfter, settled, ticks } from './support/fences.js';
import { startTestCallguard, stopTestCallguard, testConfig, testRules, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const TWILIO = { twilio: { threshold_count: 10, window_minutes: 2, log_patterns: ['error when making call via twilio'] } };

let fake: FakeSlack;
let cgs: Callguard[] = [];

beforeEach(async () => {
  fake = await FakeSlack.start();
});

afterEach(async () => {
  // Instances sharing a prefix are stopped first, then the prefix is cleaned once.
  for (const cg of cgs.slice(1)) await cg.stop();
  await stopTestCallguard(cgs[0]);
  cgs = [];
  await fake.close();
});

const slackEnv = (extra: Record<string, string> = {}) => ({
  SLACK_BOT_TOKEN: FAKE_TOKEN,
  SLACK_API_URL: fake.url,
  SLACK_CHANNEL: 'C0CALLS',
  CALLGUARD_QUEUES: 'calls,sms',
  CALLGUARD_REMIND_MINUTES: '0',
  ...extra,
});

async function start(env: Record<string, string> = {}, rules: Record<string, unknown> = TWILIO): Promise<Callguard> {
  const cg = await startTestCallguard(rules, slackEnv(env));
  cgs.push(cg);
  return cg;
}

/** A second instance on the same prefix, as another process of the same deployment. */
async function startSibling(of: Callguard, override: Partial<Callguard['config']> = {}): Promise<Callguard> {
  const cg = await createCallguard({ ...of.config, ...override }, of.rules, { logger: createLogger('silent') });
  await cg.startWorker();
  cgs.push(cg);
  return cg;
}

const posts = (title: string): SlackRequest[] => fake.delivered('chat.postMessage').filter((r) => String(r.body.text).startsWith(title));

async function waitForPosts(title: string, n: number): Promise<SlackRequest[]> {
  await waitFor(() => posts(title).length >= n);
  return posts(title);
}

const fields = (r: SlackRequest): string[] =>
  r.body.blocks.flatMap((b: any) => (b.type === 'section' ? (b.fields ?? []).map((f: any) => f.text) : []));

const button = (r: SlackRequest) => r.body.blocks.find((b: any) => b.type === 'actions')?.elements.find((e: any) => e.type === 'button');

/** The notifications job of a transition: its id is the audit entry's. */
const jobIdOf = (change: HoldChange) => `change-${change.auditId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

async function finishedNotifications(cg: Callguard) {
  return cg.notifier.queue.getJobs(['completed', 'failed']);
}

async function failedJobs(cg: Callguard) {
  const failed = await cg.notifier.queue.getFailed();
  return failed.length ? failed : undefined;
}

describe('pause and resume messages', () => {
  it('a rule trip posts one paused message naming the rule, queues, waiting jobs and how it resumes; a resume posts one resumed message', async () => {
    const cg = await start();
    await cg.dispatch.get('calls')!.addBulk([1, 2, 3].map((n) => ({ name: 'call', data: { n } })));
    await cg.dispatch.get('sms')!.add('sms', {});

    await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    const [paused] = await waitForPosts('Calls paused', 1);
    expect(paused!.headers.authorization).toBe(`Bearer ${FAKE_TOKEN}`);
    expect(paused!.body.channel).toBe('C0CALLS');
    expect(paused!.body.text).toContain('Hold: rule twilio: 10 errors in 2 min (threshold 10).');
    expect(paused!.body.text).toContain('Queues: calls (3 waiting), sms (1 waiting).');
    expect(paused!.body.text).toContain(
      'Resumes: up to 4 min after the provider recovers (up to 2 min for the window to drain, then 2 min clear).',
    );
    expect(paused!.body.blocks[0]).toMatchObject({ type: 'header', text: { text: ':double_vertical_bar: Calls paused' } });
    expect(fields(paused!)).toEqual(
      expect.arrayContaining([
        '*Hold*\nrule `twilio`: 10 errors in 2 min (threshold 10)',
        '*Queues*\n`calls` (3 waiting), `sms` (1 waiting)',
      ]),
    );
    expect(button(paused!)).toMatchObject({ action_id: 'callguard_resume', value: 'rule:twilio', text: { text: 'Resume calls' } });

    await cg.control.resume({ by: 'alice', reason: 'twilio confirmed the fix' });
    const [resumed] = await waitForPosts('Calls resumed', 1);
    expect(resumed!.body.channel).toBe('C0CALLS');
    expect(resumed!.body.text).toContain('Was held by: rule twilio: 10 errors in 2 min (threshold 10).');
    expect(resumed!.body.text).toMatch(/Paused for: \d+ s \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\./);
    expect(resumed!.body.text).toContain('Resumed by: alice: twilio confirmed the fix.');
    expect(button(resumed!)).toBeUndefined();

    // Job ids come from the audit entries, one per transition.
    await settled(cg.notifier.queue);
    const audit = await cg.ledger.audit();
    const jobs = await finishedNotifications(cg);
    expect(jobs.map((j) => j.id).sort()).toEqual(
      audit
        .filter((a) => a.event.startsWith('hold-'))
        .map((a) => `change-${a.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`)
        .sort(),
    );
    expect(fake.attempts('chat.postMessage')).toHaveLength(2);
  });

  it('a manual pause names the person, reason and scope, and says only a person resumes it', async () => {
    const cg = await start();
    await cg.control.pause({ by: 'alice', reason: 'carrier maintenance', queues: ['sms'] });
    const [paused] = await waitForPosts('Calls paused', 1);
    expect(paused!.body.text).toContain('Hold: alice: "carrier maintenance".');
    expect(paused!.body.text).toContain('Queues: sms (0 waiting).');
    expect(paused!.body.text).toContain('Resumes: by a person.');
    expect(button(paused!).value).toMatch(/^manual:/);
  });

  it('a pause lands at once even while Slack is down, and stays', async () => {
    const cg = await start();
    fake.failNext(1000, 500);
    const before = Date.now();
    const { changes } = await cg.control.pause({ by: 'alice', reason: 'test' });
    figure(`pause while Slack is down: ${Date.now() - before} ms`);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    // The pause did not wait for Slack: its message has seconds of retries still ahead.
    expect(['waiting', 'active', 'delayed']).toContain(await cg.notifier.queue.getJobState(jobIdOf(changes[0]!)));
    await waitFor(() => fake.attempts('chat.postMessage').length >= 3);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect((await cg.ledger.list()).map((h) => h.by)).toEqual(['alice']);
  });
});

describe('retries', () => {
  it('after two 500s the third attempt delivers, with growing gaps', async () => {
    const cg = await start();
    fake.failNext(2, 500);
    const { changes } = await cg.control.pause({ by: 'alice', reason: 'retry me' });
    // BullMQ marks the job complete after Slack answered; wait for that, not for the post.
    await finished(cg.notifier.queue, jobIdOf(changes[0]!));
    expect(posts('Calls paused')).toHaveLength(1);
    const tries = fake.attempts('chat.postMessage');
    expect(tries.map((t) => t.status)).toEqual([500, 500, 200]);
    const { baseMs } = cg.notifier.retry;
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(baseMs - 5);
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(2 * baseMs - 5);
    const job = await cg.notifier.queue.getJob(jobIdOf(changes[0]!));
    expect(job!.attemptsMade).toBe(3); // BullMQ counts the successful attempt too
  });

  it('after a 429 the next attempt waits for Retry-After, far longer than the exponential backoff', async () => {
    const cg = await start();
    fake.rateLimitNext(1);
    await cg.control.pause({ by: 'alice', reason: 'rate limited' });
    await waitFor(() => posts('Calls paused').length === 1);
    const tries = fake.attempts('chat.postMessage');
    expect(tries.map((t) => t.status)).toEqual([429, 200]);
    expect(cg.notifier.retry.baseMs).toBeLessThan(100);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(1000 - 20);
  });

  it('a send that keeps failing ends as a failed job after every attempt, for Bull Board to show', async () => {
    const cg = await start();
    fake.failNext(1000, 502);
    await cg.control.pause({ by: 'alice', reason: 'slack is down' });
    const [failed] = await waitFor(() => failedJobs(cg), { timeoutMs: 15_000 });
    expect(failed!.attemptsMade).toBe(NOTIFY_ATTEMPTS);
    expect(failed!.failedReason).toContain('502');
    expect(fake.attempts('chat.postMessage')).toHaveLength(NOTIFY_ATTEMPTS);
  });

  it('an error another attempt cannot fix (channel_not_found) fails at once', async () => {
    const cg = await start();
    fake.errorNext('channel_not_found');
    await cg.control.pause({ by: 'alice', reason: 'bad channel' });
    const [failed] = await waitFor(() => failedJobs(cg));
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain('channel_not_found');
    await settled(cg.notifier.queue);
    expect(fake.attempts('chat.postMessage')).toHaveLength(1);
  });
});

describe('one message per transition', () => {
  it('two instances racing the same trip and the same release post one paused and one resumed message', async () => {
    const a = await start();
    const b = await startSibling(a);
    const twilio = a.rules[0]!;
    await a.counters.record(twilio, 10);

    const trips = await Promise.all([a.evaluator.evaluate({ full: true }), b.evaluator.evaluate({ full: true })]);
    const added = trips.flatMap((t) => t.changes);
    expect(added.filter((c) => c.event === 'hold-added')).toHaveLength(1);

    const releases = await Promise.all([
      a.control.releaseIds(['rule:twilio'], 'alice', 'fixed'),
      b.control.releaseIds(['rule:twilio'], 'bob', 'fixed'),
    ]);
    expect(releases.flatMap((r) => r.changes)).toHaveLength(1);

    // The same transition enqueued again (e.g. a retried listener) is still one message.
    await a.notifier.notifyChanges(added);
    await b.notifier.notifyChanges(added);

    // Both instances' workers share the queue; once it has nothing left to run, every send is done.
    await settled(a.notifier.queue);
    expect(posts('Calls paused')).toHaveLength(1);
    expect(posts('Calls resumed')).toHaveLength(1);
    expect(fake.attempts('chat.postMessage')).toHaveLength(2);
  });
});

describe('shadow and probe holds', () => {
  const twilio = (extra: Record<string, unknown>) => ({ twilio: { ...TWILIO.twilio, window_minutes: 1, ...extra } });

  it('a shadow trip says "would have paused" and pauses nothing', async () => {
    const cg = await start({}, twilio({ mode: 'shadow' }));
    await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    const [post] = await waitForPosts('Would have paused calls (shadow mode)', 1);
    expect(post!.body.channel).toBe('C0CALLS');
    expect(post!.body.text).toContain('twilio');
    expect(post!.body.text).toContain('Would have paused: calls');
    expect(JSON.stringify(post!.body.blocks)).not.toContain('callguard_resume');
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
    await settled(cg.notifier.queue);
    expect(fake.attempts('chat.postMessage')).toHaveLength(1);
  });

  it('a half-open resume says the calls run at the probe rate, and a passed probe says full speed', async () => {
    const cg = await start({ CALLGUARD_AUTO_RESUME_MINUTES: '1' }, twilio({ probe: { minutes: 2, max_per_minute: 4 } }));
    await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    await waitForPosts('Calls paused', 1);
    const [resumed] = await waitForPosts('Calls resumed at a probe rate', 1);
    expect(resumed!.body.text).toContain('Resumed by: callguard (automatic)');
    expect(fields(resumed!).find((f) => f.startsWith('*Probe*'))).toMatch(/^\*Probe\*\nat most 4 jobs\/min until <!date\^\d+\^/);
    const [passed] = await waitForPosts('Probe passed, calls at full speed', 1);
    expect(passed!.body.text).toMatch(/Probe: \d+ s at 4 jobs\/min without tripping/);
    // A later tick found nothing more to say, and every message it could have queued is sent.
    await ticks(cg.events);
    await settled(cg.notifier.queue);
    expect(fake.attempts('chat.postMessage')).toHaveLength(3);
  });

  it('a probe that trips again says so in one pause message', async () => {
    const cg = await start({ CALLGUARD_AUTO_RESUME_MINUTES: '1' }, twilio({ probe: { minutes: 30, max_per_minute: 4 } }));
    await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    await waitForPosts('Calls resumed at a probe rate', 1);
    const report = await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    await finished(cg.events, report.id!);
    const pauses = await waitForPosts('Calls paused', 2);
    expect(pauses[1]!.body.text).toContain('tripped again during the probe');
    // The probe's end came in the same change set as the pause, and got no message of its own.
    const ended = (await cg.ledger.audit()).find((e) => e.event === 'probe-ended');
    expect(ended).toMatchObject({ reason: 'twilio tripped again during the probe' });
    await settled(cg.notifier.queue);
    expect(await cg.notifier.queue.getJob(`change-${ended!.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`)).toBeUndefined();
    // Later transitions (the next probe once the burst ages out) may follow; these three came first.
    expect(
      fake
        .attempts('chat.postMessage')
        .slice(0, 3)
        .map((r) => String(r.body.text).split('.')[0]),
    ).toEqual([
      expect.stringMatching(/^Calls paused/),
      expect.stringMatching(/^Calls resumed at a probe rate/),
      expect.stringMatching(/^Calls paused/),
    ]);
    expect(fake.attempts('chat.postMessage').filter((r) => String(r.body.text).startsWith('Probe passed'))).toEqual([]);
  });
});

describe('still-paused reminders', () => {
  it('repeat every CALLGUARD_REMIND_MINUTES for manual holds older than that, not for rule holds, and stop after resume', async () => {
    const cg = await start({ CALLGUARD_REMIND_MINUTES: '1' });
    const { hold } = await cg.control.pause({ by: 'alice', reason: 'carrier maintenance', queues: ['calls'] });
    await cg.events.add(JOB.errorReport, { rule: 'twilio', count: 10 });
    await waitFor(() => posts('Calls still paused').length >= 2, { timeoutMs: 15_000, what: 'two reminders' });

    const reminders = posts('Calls still paused');
    for (const r of reminders) {
      expect(r.body.channel).toBe('C0CALLS');
      expect(r.body.text).toMatch(/^Calls still paused after \d+ s\. Hold: alice: "carrier maintenance"\. Queues: calls \(\d+ waiting\)\./);
      expect(r.body.text).toContain('Resumes: by a person.');
      expect(button(r).value).toBe(hold.id);
      expect(r.at).toBeGreaterThanOrEqual(hold.since + cg.config.minuteMs - 50);
    }
    expect(reminders.some((r) => String(r.body.text).includes('twilio'))).toBe(false);

    await cg.control.releaseIds([hold.id], 'alice', 'maintenance over');
    const released = Date.now();
    // Two reminder runs that began after the release found nothing due...
    const runs = await runsAfter(cg.notifier.queue, NOTIFY_JOB.remind, released, 2);
    for (const run of runs) expect(run.returnvalue).toEqual({ reminders: [] });
    // ...and each reminder job left over from before the release that ran after it sent nothing.
    const pending = async () =>
      (await cg.notifier.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).filter((j) => j.name === NOTIFY_JOB.stillPaused);
    await waitFor(async () => (await pending()).length === 0, { what: 'no reminder job left to run' });
    const late = (await cg.notifier.queue.getJobs(['completed', 'failed'])).filter(
      (j) => j.name === NOTIFY_JOB.stillPaused && (j.processedOn ?? 0) > released,
    );
    for (const job of late) expect(job.returnvalue).toEqual({ skipped: `${hold.id} was released` });
    const sent = (await cg.notifier.queue.getJobs(['completed'])).filter(
      (j) => j.name === NOTIFY_JOB.stillPaused && !j.returnvalue?.skipped,
    );
    expect(posts('Calls still paused')).toHaveLength(sent.length);
  });

  it('CALLGUARD_REMIND_MINUTES=0 removes the schedule another instance set up', async () => {
    const a = await start({ CALLGUARD_REMIND_MINUTES: '30' });
    expect(await a.notifier.queue.getJobScheduler('remind')).toMatchObject({ every: 30 * a.config.minuteMs });
    await startSibling(a, { remindMinutes: 0 });
    expect(await a.notifier.queue.getJobScheduler('remind')).toBeUndefined();
  });
});

/** An instance whose log records are collected in `lines`. */
async function startLogged(env: Record<string, string>) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const config = testConfig({ CALLGUARD_REMIND_MINUTES: '0', ...env });
  const cg = await createCallguard(config, testRules(TWILIO, config.queues), { logger: pino({ level: 'info' }, sink) });
  cgs.push(cg);
  await cg.startWorker();
  return { cg, lines };
}

describe('when the notifications queue cannot take the job', () => {
  it('the pause still lands, the failure is logged, and the next tick announces it', async () => {
    const { cg, lines } = await startLogged(slackEnv());
    const addBulk = cg.notifier.queue.addBulk.bind(cg.notifier.queue);
    cg.notifier.queue.addBulk = () => Promise.reject(new Error('simulated enqueue failure'));
    await cg.control.pause({ by: 'alice', reason: 'enqueue breaks' });
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(lines.find((l) => String(l.msg).startsWith('could not relay hold changes'))).toMatchObject({
      err: { type: 'Error', message: 'simulated enqueue failure' },
      level: 50,
    });
    cg.notifier.queue.addBulk = addBulk;
    await cg.evaluator.evaluate({ full: true });
    await waitFor(
      async () => (await cg.notifier.queue.getJobs(['waiting', 'active', 'completed', 'delayed'])).some((j) => j.name === 'hold-change'),
      { what: 'the pause announced by the tick' },
    );
  });
});

describe('without SLACK_BOT_TOKEN', () => {
  it('logs the notification instead, and the job completes', async () => {
    const { cg, lines } = await startLogged({});
    await cg.control.pause({ by: 'alice', reason: 'no slack here' });

    const logged = await waitFor(() => lines.find((l) => typeof l.notification === 'string' && l.notification.startsWith('Calls paused')));
    expect(logged.notification).toContain('Hold: alice: "no slack here".');
    expect(logged.msg).toContain('SLACK_BOT_TOKEN not set');
    await waitFor(async () => (await cg.notifier.queue.getCompletedCount()) === 1);
    expect(await cg.notifier.queue.getFailedCount()).toBe(0);
    expect(fake.requests).toEqual([]);
  });
});
