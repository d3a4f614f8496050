import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../src/domain/alerts.js';
import { alertJob } from '../src/jobs/alert-handler.js';
import { JOB } from '../src/jobs/contract.js';
import type { JobPrincipal } from '../src/jobs/job-signer.js';
import { dispatch, registry } from '../src/jobs/registry.js';
import type { Callguard } from '../src/app/callguard.js';
import { AlertMarks } from '../src/store/alert-marks.js';
import { JobReceipts } from '../src/store/job-receipts.js';
import { startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';
import { postJson, startTestHttp, stopTestHttp, USERS, type Reply, type TestHttp } from './support/http.js';

/** Issue 19, item 1: an alert hold is released only by the principal that placed it, or an admin. */
const AM2 = { name: 'am2', secret: 'am2-alerts-secret-7c6b5a4f3e2d-1c0b9a8f7e6d' };
const USERS_ENV = [
  `${USERS.admin.name}:admin:${USERS.admin.secret}`,
  `${USERS.alerts.name}:alerts:${USERS.alerts.secret}`,
  `${AM2.name}:alerts:${AM2.secret}`,
].join(',');

const alert = (status: 'firing' | 'resolved') => ({
  status,
  labels: { alertname: 'X', callguard_queues: 'calls' },
  fingerprint: 'FP1',
});
const HOLD = 'alert:alertmanager:FP1';

async function handled(t: TestHttp, reply: Reply): Promise<unknown> {
  expect(reply.status, reply.text).toBe(202);
  const id = reply.json.job_id as string;
  return waitFor(async () => {
    const job = await t.cg.events.getJob(id);
    if (job && (await job.isFailed())) throw new Error(`alert job ${id} failed: ${job.failedReason}`);
    return (await job?.isCompleted()) ? job!.returnvalue : undefined;
  });
}

describe('alert holds across two alerts principals, over HTTP (issue 19, item 1)', () => {
  let t: TestHttp;
  const post = (secret: string, alerts: unknown[]) =>
    postJson(`${t.url}/health/alert`, { version: '4', alerts }, { headers: { authorization: `Bearer ${secret}` } });
  const held = async () => (await t.cg.ledger.list()).map((h) => `${h.id} by ${h.by}`);

  beforeEach(async () => {
    t = await startTestHttp({}, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_USERS: USERS_ENV });
    await handled(t, await post(USERS.alerts.secret, [alert('firing')]));
    expect(await held()).toEqual([`${HOLD} by alertmanager`]);
    expect(await t.cg.dispatch.get('calls')!.isPaused()).toBe(true);
  });
  afterEach(() => stopTestHttp(t));

  it('when am2 sends resolved then firing for am’s fingerprint in one body, then am’s hold stays and am2 leaves no mark', async () => {
    const out = await handled(t, await post(AM2.secret, [alert('resolved'), alert('firing')]));
    expect(out).toEqual({
      outcomes: [
        { hold: HOLD, status: 'resolved', result: 'not-owner' },
        { hold: HOLD, status: 'firing', result: 'unchanged' },
      ],
    });
    expect(await held()).toEqual([`${HOLD} by alertmanager`]);
    expect(await t.cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(await t.cg.redis.zcard(t.cg.keys.alertResolved)).toBe(0);
  });

  it('when am2 sends resolved and firing as parallel requests, 20 times, then am’s hold never goes', async () => {
    for (let i = 0; i < 20; i++) {
      const replies = await Promise.all([post(AM2.secret, [alert('resolved')]), post(AM2.secret, [alert('firing')])]);
      await Promise.all(replies.map((r) => handled(t, r)));
      expect(await held(), `try ${i}`).toEqual([`${HOLD} by alertmanager`]);
    }
    expect(await t.cg.dispatch.get('calls')!.isPaused()).toBe(true);
    // Its owner still can.
    await handled(t, await post(USERS.alerts.secret, [alert('resolved')]));
    expect(await held()).toEqual([]);
    expect(await t.cg.dispatch.get('calls')!.isPaused()).toBe(false);
  });

  it('when an admin resolves it, then it goes', async () => {
    expect(await handled(t, await post(USERS.admin.secret, [alert('resolved')]))).toMatchObject({ outcomes: [{ result: 'released' }] });
    expect(await held()).toEqual([]);
  });
});

describe('alert job handler: marks, replays and clocks (issue 19, item 1)', () => {
  const AM: JobPrincipal = { name: 'alertmanager', role: 'alerts' };
  const SECOND: JobPrincipal = { name: 'am2', role: 'alerts' };
  const event = (status: AlertEvent['status'], id = 'FP1'): AlertEvent => ({
    source: 'alertmanager',
    id,
    status,
    name: 'X',
    reason: 'x',
    labels: {},
  });
  let cg: Callguard;
  let handle: (job: { id: string; name: string; data: unknown; timestamp: number }) => Promise<unknown>;
  let seq = 0;
  /** A job signed as POST /health/alert signs it, enqueued at `at` (Redis' clock). */
  const signed = (alerts: AlertEvent[], at: number, who: JobPrincipal, expiresAt = at + 60_000) => {
    const jobId = `j${++seq}`;
    return {
      id: jobId,
      name: JOB.alert,
      data: JSON.parse(JSON.stringify(cg.signer.sign({ alerts, enqueued_at: at }, who, { jobId, expiresAt }))),
      timestamp: at,
    };
  };
  const holds = async () => (await cg.ledger.list()).map((h) => `${h.id} by ${h.by}`);

  beforeAll(async () => {
    cg = await startTestCallguard({}, { CALLGUARD_QUEUES: 'calls' }, { worker: false });
    const jobs = registry([
      alertJob({
        holds: cg.control,
        rules: cg.rules,
        marks: new AlertMarks(cg.redis, cg.keys),
        receipts: new JobReceipts(cg.redis, cg.keys),
        audit: cg.ledger,
        verifier: cg.signer,
        logger: cg.logger,
      }),
    ]);
    handle = (job) => dispatch(jobs, job);
  });
  afterAll(() => stopTestCallguard(cg));
  beforeEach(async () => {
    await cg.control.resume({ by: 'test' });
    await cg.redis.del(cg.keys.alertResolved);
  });

  it('when am2’s resolved notice was handled before am’s hold was placed, then neither am’s firing nor am2’s releases it', async () => {
    const now = await cg.ledger.now();
    // am2's resolved notice is enqueued last, but handled first: no hold yet, so its mark is written.
    expect(await handle(signed([event('resolved')], now, SECOND))).toMatchObject({ outcomes: [{ result: 'unchanged' }] });
    expect(await handle(signed([event('firing')], now - 1000, AM))).toMatchObject({ outcomes: [{ result: 'added' }] });
    expect(await handle(signed([event('firing')], now - 500, SECOND))).toMatchObject({ outcomes: [{ result: 'unchanged' }] });
    expect(await holds()).toEqual(['alert:alertmanager:FP1 by alertmanager']);
  });

  it('when a signed job is re-added under another id, after it ran, or after it expired, then it is refused and changes nothing', async () => {
    const now = await cg.ledger.now();
    await handle(signed([event('firing')], now, AM));
    const resolved = signed([event('resolved')], now + 1, AM);
    await expect(handle({ ...resolved, id: 'copy' })).rejects.toThrow(/signed for job j\d+, not for job copy/);
    await expect(handle(signed([event('resolved')], now + 2, AM, now - 1))).rejects.toThrow(/expired/);
    expect(await holds()).toEqual(['alert:alertmanager:FP1 by alertmanager']);

    // The original runs once; then the hold fires again, and a copy of the old resolved job re-added under its own id is refused.
    await handle(resolved);
    expect(await holds()).toEqual([]);
    await handle(signed([event('firing')], (await cg.ledger.now()) + 10, AM));
    await expect(handle(resolved)).rejects.toThrow(/already carried out/);
    expect(await holds()).toEqual(['alert:alertmanager:FP1 by alertmanager']);
  });

  it('when an unsigned job names an enqueue time far in the future, then the time is Redis’ and no other mark is pushed out', async () => {
    const now = await cg.ledger.now();
    await handle(signed([event('resolved', 'other')], now, AM));
    const future = now + 365 * 24 * 3600_000;
    await handle({ id: 'u1', name: JOB.alert, data: { alerts: [event('resolved')], enqueued_at: future }, timestamp: future });
    const marks = await cg.redis.zrange(cg.keys.alertResolved, '0', '-1', 'WITHSCORES');
    expect(marks[0]).toBe('["alertmanager","alert:alertmanager:other"]');
    expect(marks[2]).toBe('["bullmq","alert:alertmanager:FP1"]');
    expect(Number(marks[3])).toBeLessThanOrEqual((await cg.ledger.now()) + 1);
  });

  it('property: no sequence of notices from a second principal, in any order and concurrency, releases the first’s holds', async () => {
    const step = fc.record({
      status: fc.constantFrom<AlertEvent['status']>('firing', 'resolved'),
      id: fc.constantFrom('FP1', 'FP2', 'FP3'),
      offset: fc.integer({ min: -5_000, max: 5_000 }),
      who: fc.constantFrom(SECOND, { name: 'bullmq-ish', role: 'alerts' }),
      together: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), fc.boolean(), async (steps, secondFirst) => {
        await cg.control.resume({ by: 'test' });
        await cg.redis.del(cg.keys.alertResolved);
        const now = await cg.ledger.now();
        const placeFirst = () => handle(signed([event('firing', 'FP1'), event('firing', 'FP2')], now, AM));
        if (!secondFirst) await placeFirst();
        // Consecutive `together` steps run concurrently, as the worker's concurrency would run them.
        let batch: Array<Promise<unknown>> = [];
        for (const s of steps) {
          const job = s.together
            ? signed([event(s.status, s.id), event(s.status === 'firing' ? 'resolved' : 'firing', s.id)], now + s.offset, s.who)
            : signed([event(s.status, s.id)], now + s.offset, s.who);
          batch.push(handle(job));
          if (!s.together) {
            await Promise.all(batch);
            batch = [];
          }
        }
        await Promise.all(batch);
        if (secondFirst) await placeFirst();
        const byAm = (await cg.ledger.list()).filter((h) => h.by === AM.name).map((h) => h.id);
        // FP1 and FP2 were placed by am (unless a second principal held that fingerprint first, when am's notice is unchanged).
        const expected = ['alert:alertmanager:FP1', 'alert:alertmanager:FP2'];
        const all = (await cg.ledger.list()).map((h) => h.id);
        for (const id of expected) expect(all).toContain(id);
        if (!secondFirst) expect(byAm.sort()).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });
});
