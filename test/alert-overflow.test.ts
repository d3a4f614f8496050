import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { OVERFLOW_HOLD_ID } from '../src/domain/hold.js';
import type { ChangeJob } from '../src/notify/deliveries.js';
import type { AlertEvent } from '../src/domain/alerts.js';
import { alertJob } from '../src/jobs/alert-handler.js';
import { JOB } from '../src/jobs/contract.js';
import type { JobPrincipal } from '../src/jobs/job-signer.js';
import { dispatch, registry } from '../src/jobs/registry.js';
import { AlertMarks } from '../src/store/alert-marks.js';
import { JobReceipts } from '../src/store/job-receipts.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';

const CAP = 200;

/** CALLGUARD_MAX_ALERT_HOLDS: alerts beyond the cap share one overflow hold, and the kill switch stays closed. */
describe('alert holds beyond the cap', () => {
  let cg: Callguard;
  beforeEach(async () => {
    cg = await startTestCallguard({}, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
  });
  afterEach(() => stopTestCallguard(cg));

  const fire = (n: number, queues?: string[]) =>
    cg.control.addAlertHold({
      id: `alert:grafana:fp${n}`,
      by: 'grafana',
      reason: `alert ${n}`,
      queues,
      source: 'grafana',
      alertName: 'Flood',
    });
  const resolve = (n: number) => cg.control.releaseIds([`alert:grafana:fp${n}`], 'grafana', `resolved: alert ${n}`);
  const notified = async () =>
    (await cg.notifier.queue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => (j.data as ChangeJob).change);
  const paused = async () =>
    Object.fromEntries(await Promise.all([...cg.dispatch].map(async ([q, queue]) => [q, await queue.isPaused()] as const)));

  it('when the 201st alert fires, then it joins one overflow hold; the queues stay paused until every alert behind it resolves', async () => {
    expect(cg.config.maxAlertHolds).toBe(CAP);
    for (let i = 0; i < CAP; i++) await fire(i, ['calls']);
    expect((await notified()).filter((c) => c.event === 'hold-added')).toHaveLength(CAP);

    // A burst of ten more: one hold, one notification, every queue paused (fail closed).
    const burst = [];
    for (let i = CAP; i < CAP + 10; i++) burst.push(...(await fire(i, ['calls'])));
    expect(burst.map((c) => [c.event, c.hold.id, c.hold.scope, c.paused])).toEqual([['hold-added', OVERFLOW_HOLD_ID, 'all', ['sms']]]);
    const holds = await cg.ledger.list();
    expect(holds).toHaveLength(CAP + 1);
    expect(holds.filter((h) => h.id === OVERFLOW_HOLD_ID)).toHaveLength(1);
    const notices = await notified();
    expect(notices).toHaveLength(CAP + 1);
    expect(notices.filter((c) => c.hold.id === OVERFLOW_HOLD_ID)).toHaveLength(1);
    expect(await paused()).toEqual({ calls: true, sms: true });
    // Firing again (Alertmanager's repeat) changes nothing, whether the alert has its own hold or not.
    expect(await fire(3, ['calls'])).toEqual([]);
    expect(await fire(CAP + 3, ['calls'])).toEqual([]);

    // Alerts with their own hold resolve as before; the overflow hold keeps every queue paused.
    for (let i = 0; i < CAP; i++) expect((await resolve(i)).released.map((h) => h.id)).toEqual([`alert:grafana:fp${i}`]);
    expect((await cg.ledger.list()).map((h) => h.id)).toEqual([OVERFLOW_HOLD_ID]);
    expect(await cg.ledger.coveredQueues()).toEqual(new Set(['calls', 'sms']));
    expect(await paused()).toEqual({ calls: true, sms: true });

    // Below the cap again, an alert behind the overflow hold does not get a second hold.
    expect(await fire(CAP + 5, ['calls'])).toEqual([]);
    for (let i = CAP; i < CAP + 9; i++) expect((await resolve(i)).released).toEqual([]);
    expect(await paused()).toEqual({ calls: true, sms: true });
    expect(await cg.ledger.overflowMember(`alert:grafana:fp${CAP + 9}`)).toBe('grafana');

    // The last one out lifts it.
    const last = await resolve(CAP + 9);
    expect(last.changes.map((c) => [c.event, c.hold.id, c.resumed])).toEqual([['hold-released', OVERFLOW_HOLD_ID, ['calls', 'sms']]]);
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.ledger.coveredQueues()).toEqual(new Set());
    expect(await paused()).toEqual({ calls: false, sms: false });
    expect(await cg.ledger.overflowMember(`alert:grafana:fp${CAP + 9}`)).toBeUndefined();
  }, 120_000);

  it('when an admin resumes everything, then the overflow hold goes and forgets the alerts behind it', async () => {
    const small = await startTestCallguard({}, { CALLGUARD_QUEUES: 'calls', CALLGUARD_MAX_ALERT_HOLDS: '1' }, { worker: false });
    try {
      const fireSmall = (n: number) => small.control.addAlertHold({ id: `alert:am:fp${n}`, by: 'am', reason: `alert ${n}` });
      await fireSmall(0);
      await fireSmall(1);
      await fireSmall(2);
      expect((await small.ledger.list()).map((h) => h.id).sort()).toEqual(['alert:am:fp0', OVERFLOW_HOLD_ID]);
      const { released } = await small.control.resume({ by: 'admin' });
      expect(released.map((h) => h.id).sort()).toEqual(['alert:am:fp0', OVERFLOW_HOLD_ID]);
      expect(await small.ledger.overflowMember('alert:am:fp1')).toBeUndefined();
      // The next alert gets its own hold again: the count of alert holds followed the releases.
      expect((await fireSmall(1)).map((c) => c.hold.id)).toEqual(['alert:am:fp1']);
    } finally {
      await stopTestCallguard(small);
    }
  });

  it('when another source resolves an alert behind the overflow hold, then it stays; its own source lifts it', async () => {
    const small = await startTestCallguard({}, { CALLGUARD_QUEUES: 'calls', CALLGUARD_MAX_ALERT_HOLDS: '1' }, { worker: false });
    try {
      const jobs = registry([
        alertJob({
          holds: small.control,
          rules: small.rules,
          marks: new AlertMarks(small.redis, small.keys),
          receipts: new JobReceipts(small.redis, small.keys),
          audit: small.ledger,
          verifier: small.signer,
          logger: small.logger,
        }),
      ]);
      const am: JobPrincipal = { name: 'alertmanager', role: 'alerts' };
      const alert = (status: AlertEvent['status'], id: string): AlertEvent => ({
        source: 'alertmanager',
        id,
        status,
        name: 'Down',
        reason: 'down',
        labels: {},
      });
      const handle = (alerts: AlertEvent[], timestamp: number, who = am) =>
        dispatch(jobs, {
          id: `j${timestamp}`,
          name: JOB.alert,
          data: JSON.parse(JSON.stringify(small.signer.sign({ alerts }, who, { jobId: `j${timestamp}`, expiresAt: Date.now() + 60_000 }))),
          timestamp,
        });

      await handle([alert('firing', 'fp-1'), alert('firing', 'fp-2')], 1000);
      expect((await small.ledger.list()).map((h) => h.id).sort()).toEqual(['alert:alertmanager:fp-1', OVERFLOW_HOLD_ID]);
      expect(await small.ledger.overflowMember('alert:alertmanager:fp-2')).toBe('alertmanager');

      const other = await handle([alert('resolved', 'fp-2')], 2000, { name: 'grafana', role: 'alerts' });
      expect(other).toMatchObject({ outcomes: [{ result: 'not-owner' }] });
      expect((await small.ledger.list()).map((h) => h.id)).toContain(OVERFLOW_HOLD_ID);

      expect(await handle([alert('resolved', 'fp-2')], 3000)).toMatchObject({ outcomes: [{ result: 'released' }] });
      expect((await small.ledger.list()).map((h) => h.id)).toEqual(['alert:alertmanager:fp-1']);
    } finally {
      await stopTestCallguard(small);
    }
  });
});
