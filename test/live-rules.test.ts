import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';
import type { Callguard } from '../src/app/callguard.js';
import { figure } from './support/figures.js';
import { rulesPublishedMessage } from '../src/notify/messages.js';

const RULES = {
  twilio: { threshold_count: 100, window_minutes: 10, log_patterns: ['twilio api error'], queues: ['calls'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
};
const LOWER = { ...RULES, twilio: { ...RULES.twilio, threshold_count: 3 } };

/** Instances sharing one Redis state: the same two prefixes. */
function sharedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const id = randomBytes(4).toString('hex');
  return { CALLGUARD_PREFIX: `{cgtest-${id}}`, CALLGUARD_QUEUE_PREFIX: `cgtq-${id}`, CALLGUARD_QUEUES: 'calls,sms', ...extra };
}

const as = (role: 'admin' | 'viewer' | 'alerts') => ({ token: tokenOf(role) });

function put(t: TestHttp, body: unknown, ifMatch: string | undefined, role: 'admin' | 'viewer' | 'alerts' = 'admin') {
  return request(`${t.url}/health/rules`, {
    method: 'PUT',
    ...as(role),
    headers: { 'content-type': 'application/json', ...(ifMatch !== undefined ? { 'if-match': ifMatch } : {}) },
    body: JSON.stringify(body),
  });
}

/** Resolves with performance.now() when the instance runs `version` (its change listener fires, or it already does). */
function adopted(cg: Callguard, version: number): Promise<number> {
  return new Promise((resolve) => {
    if (cg.liveRules.version >= version) return resolve(performance.now());
    cg.liveRules.onChange((v) => {
      if (v.version >= version) resolve(performance.now());
    });
  });
}

describe('one shared rules version (issue 22)', () => {
  const started: TestHttp[] = [];
  const plain: Callguard[] = [];
  afterEach(async () => {
    // Instances share the keys: stop all before the last cleans up.
    for (const t of started.splice(0).reverse()) await stopTestHttp(t);
    for (const cg of plain.splice(0).reverse()) await stopTestCallguard(cg);
  });

  it('when an admin replaces the rules on instance A, then B and C run the new version at once and C trips on the new threshold', async () => {
    const env = sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' });
    for (let i = 0; i < 3; i++) started.push(await startTestHttp(RULES, env));
    const [a, b, c] = started as [TestHttp, TestHttp, TestHttp];
    const got = await request(`${a.url}/health/rules`, as('viewer'));
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.json).toMatchObject({ version: 1, source: 'seed', rules_source: 'redis', content: RULES });

    const waits = [a, b, c].map((t) => adopted(t.cg, 2));
    const sent = performance.now();
    const reply = await put(a, LOWER, '"1"');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('etag')).toBe('"2"');
    expect(reply.json).toMatchObject({ version: 2, source: 'api', by: 'ops-admin', content: LOWER });
    const at = await Promise.all(waits);
    const spreadMs = Math.max(...at) - sent;
    figure(`rules propagation: every instance ran version 2 within ${spreadMs.toFixed(0)} ms of the PUT (poll every 250 ms)`);

    for (const t of [a, b, c]) {
      const s = await request(`${t.url}/health/service`, as('viewer'));
      expect(s.json.rules_version).toBe(2);
      expect(s.json.rules.twilio.threshold).toBe(3);
    }
    expect((await postJson(`${c.url}/health/errors`, { rule: 'twilio', count: 3 }, as('alerts'))).status).toBe(202);
    await waitFor(async () => (await c.cg.ledger.list()).some((h) => h.id === 'rule:twilio'), { what: 'twilio tripped at 3' });
    const audit = (await request(`${c.url}/health/audit`, as('viewer'))).json.entries;
    expect(audit.find((e: { hold: string }) => e.hold === 'rule:twilio')).toMatchObject({ event: 'hold-added', rules_version: 2 });
    expect(audit.find((e: { event: string }) => e.event === 'rules-published')).toMatchObject({
      by: 'ops-admin',
      rules_version: 2,
      changes: [{ path: 'twilio.threshold_count', before: 100, after: 3 }],
    });
    // Version 1, the seed, is audited too: its diff adds every rule.
    expect(
      audit.find((e: { event: string; rules_version?: number }) => e.event === 'rules-published' && e.rules_version === 1),
    ).toMatchObject({
      by: expect.stringMatching(/^instance /),
      changes: expect.arrayContaining([{ path: 'twilio', after: RULES.twilio }]),
    });
    // Announced once, by A (the instance that published), naming who, the version and the change.
    const jobs = async (cg: Callguard) =>
      (await cg.notifier.queue.getJobs(['waiting', 'active', 'completed', 'delayed', 'failed'])).filter(
        (j) => j.name === 'rules-published',
      );
    const v2 = await waitFor(async () => (await jobs(a.cg)).filter((j) => j.data.version === 2).length && jobs(a.cg), {
      what: 'the rules announcement enqueued',
    }).then((all) => all.filter((j) => j.data.version === 2));
    expect(v2).toHaveLength(1);
    const message = rulesPublishedMessage(v2[0]!.data);
    expect(message.text).toMatch(/^Rules version 2 is in force, published by ops-admin\. From an edit .*twilio\.threshold_count: 100 → 3/);
  });

  it('when the If-Match is stale, the proposal invalid or the caller not an admin, then nothing changes (412, 400, 403)', async () => {
    const t = await startTestHttp(RULES, sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' }));
    started.push(t);
    expect((await put(t, LOWER, '"1"')).status).toBe(200);

    const stale = await put(t, RULES, '"1"');
    expect(stale.status).toBe(412);
    expect(stale.json.error.message).toMatch(/version 1 is no longer active \(active: 2\)/);

    const invalid = await put(
      t,
      { ...LOWER, plivo: { threshold_count: -1, window_minutes: 10, log_patterns: ['plivo api error'] } },
      '"2"',
    );
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.message).toMatch(/rule "plivo": field threshold_count/);
    const unknownQueue = await request(`${t.url}/health/rules/diff`, {
      method: 'POST',
      ...as('viewer'),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ twilio: { ...RULES.twilio, queues: ['nope'] } }),
    });
    expect(unknownQueue.status).toBe(400);
    expect(unknownQueue.json.error.message).toMatch(/rule "twilio": field queues: nope not in CALLGUARD_QUEUES/);

    expect((await put(t, RULES, '"2"', 'viewer')).status).toBe(403);
    expect((await put(t, RULES, '"2"', 'alerts')).status).toBe(403);
    expect((await postJson(`${t.url}/health/rules/rollback`, { version: 1 }, as('viewer'))).status).toBe(403);
    expect((await request(`${t.url}/health/rules`, as('alerts'))).status).toBe(403);
    expect((await put(t, RULES, undefined)).status).toBe(400);

    const after = await request(`${t.url}/health/rules`, as('viewer'));
    expect(after.json).toMatchObject({ version: 2, content: LOWER });
    expect(t.cg.rules.find((r) => r.name === 'twilio')?.thresholdCount).toBe(3);
    const versions = (await request(`${t.url}/health/rules/versions`, as('viewer'))).json.versions;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });

  it('when an admin diffs and rolls back, then the diff names each change and the rollback is a new version with the old rules', async () => {
    const t = await startTestHttp(RULES, sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' }));
    started.push(t);
    const diff = await postJson(`${t.url}/health/rules/diff`, { twilio: { ...LOWER.twilio, log_patterns: ['error'] } }, as('viewer'));
    expect(diff.status).toBe(200);
    expect(diff.json.changes).toEqual([
      { path: 'plivo', before: RULES.plivo },
      { path: 'twilio.log_patterns', before: ['twilio api error'], after: ['error'] },
      { path: 'twilio.threshold_count', before: 100, after: 3 },
    ]);
    expect(diff.json.warnings.join('\n')).toMatch(/generic word/);
    expect(t.cg.liveRules.version).toBe(1);

    expect((await put(t, LOWER, '"1"')).status).toBe(200);
    const back = await postJson(`${t.url}/health/rules/rollback`, { version: 1 }, as('admin'));
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({ version: 3, source: 'rollback', by: 'ops-admin' });
    expect(t.cg.rules.find((r) => r.name === 'twilio')?.thresholdCount).toBe(100);
    expect((await postJson(`${t.url}/health/rules/rollback`, { version: 99 }, as('admin'))).status).toBe(404);
  });

  it('when a rule is removed, then its hold is released through the normal transition, naming the version', async () => {
    const t = await startTestHttp(LOWER, sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' }));
    started.push(t);
    await postJson(`${t.url}/health/errors`, { rule: 'twilio', count: 3 }, as('alerts'));
    await waitFor(async () => (await t.cg.ledger.list()).some((h) => h.id === 'rule:twilio'), { what: 'twilio tripped' });
    await waitFor(() => t.cg.dispatch.get('calls')!.isPaused(), { what: 'calls paused' });
    expect((await put(t, { plivo: RULES.plivo }, '"1"')).status).toBe(200);
    await waitFor(async () => !(await t.cg.ledger.list()).some((h) => h.id === 'rule:twilio'), { what: 'twilio released' });
    const released = (await t.cg.ledger.audit()).find((e) => e.event === 'hold-released');
    expect(released).toMatchObject({ hold: 'rule:twilio', reason: 'rule twilio is no longer configured', rules: 2 });
    await waitFor(async () => !(await t.cg.dispatch.get('calls')!.isPaused()), { what: 'calls resumed' });
  });

  it('when a version changes the phrases, then POST /health/logs on every instance matches the new ones, not the old', async () => {
    const env = sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' });
    for (let i = 0; i < 2; i++) started.push(await startTestHttp(RULES, env, { worker: false }));
    const [a, b] = started as [TestHttp, TestHttp];
    const lines = ['twilio api error', 'twilio carrier down', 'plivo api error']
      .map((msg) => JSON.stringify({ level: 50, time: 1, msg }))
      .join('\n');
    const counts = async (t: TestHttp) =>
      (
        await request(`${t.url}/health/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: lines,
          ...as('alerts'),
        })
      ).json.counts;
    // Both instances matched with version 1 first, so a matcher built for it exists on each.
    for (const t of [a, b]) expect(await counts(t)).toEqual({ twilio: 1, plivo: 1 });

    const waits = [a, b].map((t) => adopted(t.cg, 2));
    const NEW = { twilio: { ...RULES.twilio, log_patterns: ['twilio carrier down'] } };
    expect((await put(a, NEW, '"1"')).status).toBe(200);
    await Promise.all(waits);
    for (const t of [a, b]) expect(await counts(t)).toEqual({ twilio: 1 });
  });

  it('when the rule an alert named is removed, then its resolved notice still lifts the alert hold (202)', async () => {
    const t = await startTestHttp(RULES, sharedEnv({ CALLGUARD_RULES_SOURCE: 'redis' }));
    started.push(t);
    const alert = (status: string) => postJson(`${t.url}/health/alert`, { rule: 'twilio', status, reason: 'twilio 5xx' }, as('alerts'));
    expect((await alert('firing')).status).toBe(202);
    await waitFor(async () => (await t.cg.ledger.list()).some((h) => h.id === 'alert:generic:twilio'), { what: 'alert hold placed' });

    expect((await put(t, { plivo: RULES.plivo }, '"1"')).status).toBe(200);
    // A new firing notice for the removed rule is refused, as for any unknown rule; its resolved notice is not.
    expect((await alert('firing')).json.error).toMatchObject({ code: 'unknown_rule' });
    const resolved = await alert('resolved');
    expect(resolved.status).toBe(202);
    expect(resolved.json.alerts).toEqual([{ hold: 'alert:generic:twilio', status: 'resolved', name: expect.any(String) }]);
    await waitFor(async () => (await t.cg.ledger.list()).length === 0, { what: 'alert hold lifted' });
    await waitFor(async () => !(await t.cg.dispatch.get('calls')!.isPaused()), { what: 'calls resumed' });
  });

  it('in file mode, an edit is refused with 409 saying how to switch, and nothing changes', async () => {
    const t = await startTestHttp(RULES, sharedEnv());
    started.push(t);
    const refused = await put(t, LOWER, '"1"');
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'rules_from_file' });
    expect(refused.json.error.message).toMatch(/CALLGUARD_RULES_SOURCE=redis/);
    expect((await postJson(`${t.url}/health/rules/rollback`, { version: 1 }, as('admin'))).status).toBe(409);
    expect((await request(`${t.url}/health/rules`, as('viewer'))).json).toMatchObject({ version: 1, source: 'file', rules_source: 'file' });
  });

  it('in file mode, an instance booting with a newer file publishes it; the older ones follow and say their file differs', async () => {
    const env = sharedEnv();
    const old1 = await startTestCallguard(RULES, env);
    plain.push(old1);
    const old2 = await startTestCallguard(RULES, env);
    plain.push(old2);
    expect([old1.liveRules.version, old2.liveRules.version]).toEqual([1, 1]);
    const waits = [old1, old2].map((cg) => adopted(cg, 2));
    const sent = performance.now();
    const fresh = await startTestCallguard(LOWER, env);
    plain.push(fresh);
    expect(fresh.liveRules.version).toBe(2);
    const at = await Promise.all(waits);
    figure(
      `file mode: the older instances followed version 2 within ${(Math.max(...at) - sent).toFixed(0)} ms of the new instance's start`,
    );
    for (const cg of [old1, old2]) {
      expect(cg.liveRules.fileDiffers).toBe(true);
      expect(cg.rules.find((r) => r.name === 'twilio')?.thresholdCount).toBe(3);
      expect(await cg.metrics.registry.getSingleMetricAsString('callguard_rules_file_differs')).toMatch(/callguard_rules_file_differs 1/);
    }
    expect(fresh.liveRules.fileDiffers).toBe(false);
    const published = (await fresh.ledger.audit()).find((e) => e.event === 'rules-published');
    expect(published).toMatchObject({ by: `instance ${fresh.liveRules.instance}`, rules: 2 });
    expect(published!.reason).toMatch(/differs from version 1/);

    // Transitions name the version that decided them.
    await old1.counters.record(
      old1.rules.find((r) => r.name === 'twilio')!,
      3,
    );
    await old1.evaluator.evaluate({ full: true });
    const added = (await old1.ledger.audit()).find((e) => e.event === 'hold-added');
    expect(added).toMatchObject({ hold: 'rule:twilio', rules: 2 });
  });
});
