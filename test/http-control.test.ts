import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ticks } from './support/fences.js';
import { waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';

const RULES = {
  twilio: { threshold_count: 3, window_minutes: 10, log_patterns: ['twilio api error'], queues: ['calls'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
};
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const admin = { token: tokenOf('admin') };
const status = async (t: TestHttp) => (await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).json;
const pausedQueues = async (t: TestHttp) =>
  Object.fromEntries(await Promise.all([...t.cg.dispatch].map(async ([n, q]) => [n, await q.isPaused()] as const)));

describe('GET /health/service, POST /health/pause and /health/resume', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_AUTO_RESUME_MINUTES: '2' });
  });
  afterEach(() => stopTestHttp(t));

  it('when nothing is held, then status shows the original fields, every rule, queue and the auto-pause mode', async () => {
    const s = await status(t);
    expect(s).toMatchObject({
      is_paused: false,
      pause_reason: null,
      paused_by: null,
      paused_at: null,
      source_rule: null,
      rules: {
        twilio: { error_count: 0, threshold: 3, window_minutes: 10, queues: ['calls'], clear_since: null },
        plivo: { error_count: 0, threshold: 50, window_minutes: 10, queues: 'all', clear_since: null },
      },
      holds: [],
      queues: {
        calls: { paused: false, held: false, counts: expect.objectContaining({ waiting: 0, active: 0 }) },
        sms: { paused: false, held: false, counts: expect.objectContaining({ waiting: 0 }) },
      },
      events_queue: { counts: expect.any(Object) },
      auto_pause: 'on',
    });
    expect(s.now).toMatch(ISO);
  });

  it('when an admin pauses with no body, then every dispatch queue pauses under one manual hold by that admin', async () => {
    const reply = await request(`${t.url}/health/pause`, { method: 'POST', ...admin });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ status: 'paused', paused_by: USERS.admin.name, newly_paused: ['calls', 'sms'] });
    expect(reply.json.hold).toMatchObject({
      kind: 'manual',
      scope: 'all',
      by: USERS.admin.name,
      reason: 'paused by an operator',
      until: null,
    });
    expect(reply.json.hold.id).toMatch(/^manual:/);
    expect(reply.json.hold.since).toMatch(ISO);
    expect(await pausedQueues(t)).toEqual({ calls: true, sms: true });
    const s = await status(t);
    expect(s).toMatchObject({ is_paused: true, paused_by: USERS.admin.name, pause_reason: 'paused by an operator', source_rule: null });
    expect(s.paused_at).toBe(reply.json.hold.since);
  });

  it('when an admin pauses some queues, then only those pause; resuming another queue releases nothing', async () => {
    const reply = await postJson(`${t.url}/health/pause`, { queues: ['sms'], reason: 'SMS carrier maintenance' }, admin);
    expect(reply.json.newly_paused).toEqual(['sms']);
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: true });
    const resumed = await postJson(`${t.url}/health/resume`, { queues: ['calls'] }, admin);
    expect(resumed.json).toMatchObject({ status: 'resumed', resumed_by: USERS.admin.name, released: [], newly_resumed: [] });
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: true });
    const resumedSms = await postJson(`${t.url}/health/resume`, { queues: ['sms'] }, admin);
    expect(resumedSms.json.released.map((h: { reason: string }) => h.reason)).toEqual(['SMS carrier maintenance']);
    expect(resumedSms.json.newly_resumed).toEqual(['sms']);
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: false });
  });

  it('when an admin holds one provider, then only its jobs are held: the queues keep running, and status, audit and resume show it', async () => {
    const reply = await postJson(`${t.url}/health/pause`, { providers: ['twilio'], queues: ['calls'], reason: 'Twilio incident' }, admin);
    expect(reply.status).toBe(200);
    expect(reply.json.newly_paused).toEqual(['calls:twilio']);
    expect(reply.json.hold).toMatchObject({ kind: 'manual', scope: ['calls'], providers: ['twilio'], reason: 'Twilio incident' });
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: false });
    expect(await t.cg.ledger.coveredProviders()).toEqual(new Set(['calls:twilio']));
    const s = await status(t);
    expect(s.holds).toEqual([expect.objectContaining({ id: reply.json.hold.id, providers: ['twilio'] })]);
    expect(s.queues.calls).toMatchObject({ paused: false, held: false });
    const audit = (await request(`${t.url}/health/audit`, { token: tokenOf('viewer') })).json;
    expect(audit.entries[0]).toMatchObject({ event: 'hold-added', paused: ['calls:twilio'], detail: { providers: ['twilio'] } });

    const resumed = await postJson(`${t.url}/health/resume`, { queues: ['calls'] }, admin);
    expect(resumed.json).toMatchObject({ released: [expect.objectContaining({ providers: ['twilio'] })], newly_resumed: ['calls:twilio'] });
    expect(await t.cg.ledger.coveredProviders()).toEqual(new Set());
  });

  it.each([
    [{ providers: [] }, 'providers: omit providers to hold whole queues; an empty list is ambiguous'],
    [{ providers: ['twilio:eu'] }, 'providers.0: a provider name'],
  ])('when a pause names providers badly (%j), then 400 names the field and nothing is held', async (body, message) => {
    const reply = await postJson(`${t.url}/health/pause`, body, admin);
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe('invalid_request');
    expect(reply.json.error.message).toContain(message);
    expect(await t.cg.ledger.list()).toEqual([]);
  });

  it('when a pause has an until, then the evaluator releases it once that time passes', async () => {
    const until = new Date(Date.now() + 1500).toISOString();
    const reply = await postJson(`${t.url}/health/pause`, { queues: ['calls'], until }, admin);
    expect(reply.json.hold.until).toBe(until);
    expect(await pausedQueues(t)).toEqual({ calls: true, sms: false });
    await waitFor(async () => (await status(t)).holds.length === 0, { timeoutMs: 8000 });
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: false });
    const [released] = (await request(`${t.url}/health/audit?limit=1`, { token: tokenOf('viewer') })).json.entries;
    expect(released).toMatchObject({
      event: 'hold-released',
      by: 'callguard',
      reason: expect.stringContaining('passed'),
      resumed: ['calls'],
    });
  });

  it('when a rule trips and an admin resumes, then its window restarts so the stale burst cannot re-trip', async () => {
    const report = await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 5 }, { token: tokenOf('alerts') });
    expect(report.status).toBe(202);
    await waitFor(async () => (await status(t)).is_paused);
    const tripped = await status(t);
    expect(tripped).toMatchObject({ paused_by: 'callguard', source_rule: 'twilio', rules: { twilio: { error_count: 5 } } });
    expect(tripped.holds).toEqual([
      expect.objectContaining({ id: 'rule:twilio', kind: 'rule', scope: ['calls'], count: 5, threshold: 3, window_minutes: 10 }),
    ]);
    expect(await pausedQueues(t)).toEqual({ calls: true, sms: false });

    const resumed = await postJson(`${t.url}/health/resume`, {}, admin);
    expect(resumed.json.released.map((h: { id: string }) => h.id)).toEqual(['rule:twilio']);
    expect((await status(t)).rules.twilio.error_count).toBe(0);
    // Two evaluator ticks later it is still running.
    await ticks(t.cg.events, 2);
    const later = await status(t);
    expect(later.is_paused).toBe(false);
    expect(await pausedQueues(t)).toEqual({ calls: false, sms: false });
  });

  it('when a tripped rule clears, then status shows since when (clear_since) until its hold is released', async () => {
    await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 3 }, { token: tokenOf('alerts') });
    await waitFor(async () => (await status(t)).is_paused);
    // Counts fall below threshold when the window no longer holds them; here: the buckets are deleted.
    await t.cg.counters.reset(['twilio']);
    const clearing = await waitFor(async () => {
      const s = await status(t);
      return s.rules.twilio.clear_since ? s : undefined;
    });
    expect(clearing.rules.twilio.clear_since).toMatch(ISO);
    expect(clearing.is_paused).toBe(true);
    await waitFor(async () => !(await status(t)).is_paused, { timeoutMs: 8000 });
    expect((await status(t)).rules.twilio.clear_since).toBeNull();
  });

  it('audit: newest first, limited, ISO times, the principal as actor', async () => {
    await postJson(`${t.url}/health/pause`, { queues: ['calls'], reason: 'first' }, admin);
    await postJson(`${t.url}/health/pause`, { queues: ['sms'], reason: 'second' }, admin);
    await postJson(`${t.url}/health/resume`, {}, admin);
    const all = (await request(`${t.url}/health/audit`, { token: tokenOf('viewer') })).json.entries;
    expect(all.map((e: { event: string; reason: string }) => e.event)).toEqual([
      'hold-released',
      'hold-released',
      'hold-added',
      'hold-added',
      'rules-published',
    ]);
    expect(all[3]).toMatchObject({
      reason: 'first',
      by: USERS.admin.name,
      kind: 'manual',
      paused: ['calls'],
      detail: { scope: ['calls'] },
    });
    for (const e of all) expect(e.at).toMatch(ISO);
    const two = (await request(`${t.url}/health/audit?limit=2`, { token: tokenOf('admin') })).json.entries;
    expect(two).toEqual(all.slice(0, 2));
  });
});

describe('auto-pause off', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_AUTO_PAUSE: 'off' });
  });
  afterEach(() => stopTestHttp(t));

  it('when auto-pause is off, then status says so and a burst is counted but pauses nothing', async () => {
    const reply = await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 9 }, { token: tokenOf('alerts') });
    await waitFor(async () => (await t.cg.events.getJobState(reply.json.job_id)) === 'completed');
    const s = await status(t);
    expect(s).toMatchObject({ auto_pause: 'off', is_paused: false, rules: { twilio: { error_count: 9 } } });
  });
});

describe('shadow rules in the status', () => {
  let t: TestHttp;
  beforeEach(async () => {
    t = await startTestHttp(
      { tts: { threshold_count: 2, window_minutes: 10, log_patterns: ['tts synthesis failed'], mode: 'shadow' } },
      { CALLGUARD_QUEUES: 'calls' },
    );
  });
  afterEach(() => stopTestHttp(t));

  it('when a shadow rule trips, then its hold is listed with effect shadow but nothing reads as paused', async () => {
    await postJson(`${t.url}/health/errors`, { rule: 'tts', count: 3 }, { token: tokenOf('alerts') });
    const s = await waitFor(async () => {
      const current = await status(t);
      return current.holds.length ? current : undefined;
    });
    expect(s.holds).toEqual([expect.objectContaining({ id: 'rule:tts', effect: 'shadow' })]);
    expect(s).toMatchObject({
      is_paused: false,
      paused_by: null,
      pause_reason: null,
      source_rule: null,
      queues: { calls: { paused: false } },
    });
  });
});
