import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ticks } from './support/fences.js';
import { cleanup, waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = {
  twilio: { threshold_count: 3, window_minutes: 30, log_patterns: ['twilio api error'], queues: ['calls'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
};
const as = (role: 'admin' | 'viewer' | 'alerts') => ({ token: tokenOf(role) });
const held = async (t: TestHttp) => (await t.cg.ledger.list()).some((h) => h.id === 'rule:twilio');
const errors = (t: TestHttp, count: number) => postJson(`${t.url}/health/errors`, { rule: 'twilio', count }, as('alerts'));
const inSeconds = async (t: TestHttp, s: number) => new Date((await t.cg.ledger.now()) + s * 1000).toISOString();

describe('silences (issue 22)', () => {
  let t: TestHttp | undefined;
  afterEach(async () => {
    await stopTestHttp(t);
    t = undefined;
  });

  it('when a tripped rule is silenced, its hold is released, counting goes on, and it trips again within one evaluation once the silence ends', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    await errors(t, 3);
    await waitFor(() => held(t!), { what: 'twilio tripped' });
    await waitFor(() => t!.cg.dispatch.get('calls')!.isPaused(), { what: 'calls paused' });

    const placed = await postJson(
      `${t.url}/health/silences`,
      { rules: ['twilio'], until: await inSeconds(t, 60), reason: 'false positive: <twilio> status page says fine' },
      as('admin'),
    );
    expect(placed.status).toBe(201);
    expect(placed.json).toMatchObject({ rules: ['twilio'], by: 'ops-admin', reason: 'false positive: <twilio> status page says fine' });
    expect(await held(t)).toBe(false);
    await waitFor(async () => !(await t!.cg.dispatch.get('calls')!.isPaused()), { what: 'calls resumed' });
    const released = (await t.cg.ledger.audit()).find((e) => e.event === 'hold-released');
    expect(released).toMatchObject({ hold: 'rule:twilio', by: 'ops-admin' });
    expect(released!.reason).toMatch(/silenced by ops-admin until/);
    expect((await t.cg.ledger.audit()).find((e) => e.event === 'silence-added')).toMatchObject({ kind: 'silence', by: 'ops-admin' });

    // Counting goes on; a full evaluation after the errors places no hold.
    await errors(t, 5);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio! >= 8, { what: 'the errors counted' });
    await ticks(t.cg.events, 1);
    expect(await held(t)).toBe(false);
    const status = (await request(`${t.url}/health/service`, as('viewer'))).json;
    expect(status.silences).toMatchObject([{ id: placed.json.id, rules: ['twilio'] }]);
    expect(status.rules.twilio.error_count).toBeGreaterThanOrEqual(8);
    const metrics = await t.cg.metrics.registry.getSingleMetricAsString('callguard_rule_silenced');
    expect(metrics).toMatch(/callguard_rule_silenced\{rule="twilio"\} \d+/);

    // Ended early by an admin: the rule, still over threshold, trips in the same step.
    const ended = await request(`${t.url}/health/silences/${placed.json.id}`, { method: 'DELETE', ...as('admin') });
    expect(ended.status).toBe(200);
    expect(await held(t)).toBe(true);
    expect((await request(`${t.url}/health/silences`, as('viewer'))).json.silences).toEqual([]);
    expect((await request(`${t.url}/health/silences/${placed.json.id}`, { method: 'DELETE', ...as('admin') })).status).toBe(404);
  });

  it('when a silence runs out while errors continue, the rule trips at the first evaluation after it ends', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    const until = await inSeconds(t, 2);
    expect((await postJson(`${t.url}/health/silences`, { rules: ['twilio'], until, reason: 'maintenance' }, as('admin'))).status).toBe(201);
    await errors(t, 4);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio! >= 4, { what: 'the errors counted' });
    expect(await held(t)).toBe(false);
    await waitFor(() => held(t!), { what: 'twilio tripped after the silence ended' });
    // The evaluation that ended the silence (audited first) is the one that tripped the rule.
    const [newest, before] = await t.cg.ledger.audit(2);
    expect([newest!.event, before!.event]).toEqual(['hold-added', 'silence-ended']);
    expect(before).toMatchObject({ by: 'callguard', kind: 'silence' });
    expect(newest!.at).toBeGreaterThanOrEqual(Date.parse(until));
  });

  it('a silence survives a restart of the instance', async () => {
    const id = randomBytes(4).toString('hex');
    const env = { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_PREFIX: `{cgtest-${id}}`, CALLGUARD_QUEUE_PREFIX: `cgtq-${id}` };
    const first = await startTestHttp(RULES, env);
    const placed = await postJson(
      `${first.url}/health/silences`,
      { rules: ['twilio'], until: await inSeconds(first, 120), reason: 'noisy' },
      as('admin'),
    );
    expect(placed.status).toBe(201);
    await first.http.close();
    await first.cg.stop({ graceMs: 3000 });
    t = await startTestHttp(RULES, env);
    expect((await request(`${t.url}/health/silences`, as('viewer'))).json.silences).toMatchObject([
      { id: placed.json.id, reason: 'noisy' },
    ]);
    await errors(t, 3);
    await waitFor(async () => (await t!.cg.counters.sums()).counts.twilio! >= 3, { what: 'the errors counted' });
    await ticks(t.cg.events, 1);
    expect(await held(t)).toBe(false);
    await cleanup(first.cg.config);
  });

  it('only admins place and end silences; bad bodies change nothing (403, 400, 404)', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    const body = { rules: ['twilio'], until: await inSeconds(t, 60), reason: 'x' };
    expect((await postJson(`${t.url}/health/silences`, body, as('viewer'))).status).toBe(403);
    expect((await postJson(`${t.url}/health/silences`, body, as('alerts'))).status).toBe(403);
    expect((await request(`${t.url}/health/silences`, as('alerts'))).status).toBe(403);
    expect((await request(`${t.url}/health/silences/nope`, { method: 'DELETE', ...as('viewer') })).status).toBe(403);
    const unknown = await postJson(`${t.url}/health/silences`, { ...body, rules: ['nope'] }, as('admin'));
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/unknown rule\(s\) nope/);
    const past = await postJson(`${t.url}/health/silences`, { ...body, until: '2001-01-01T00:00:00Z' }, as('admin'));
    expect(past.status).toBe(400);
    expect((await postJson(`${t.url}/health/silences`, { ...body, reason: '' }, as('admin'))).status).toBe(400);
    expect((await postJson(`${t.url}/health/silences`, { ...body, rules: [] }, as('admin'))).status).toBe(400);
    expect((await postJson(`${t.url}/health/silences`, { ...body, queues: ['nope'] }, as('admin'))).status).toBe(400);
    expect((await request(`${t.url}/health/silences/nope`, { method: 'DELETE', ...as('admin') })).status).toBe(404);
    expect((await request(`${t.url}/health/silences`, as('viewer'))).json.silences).toEqual([]);
  });
});
