import { UnrecoverableError } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertJob } from '../src/jobs/alert-handler.js';
import { JOB } from '../src/jobs/contract.js';
import { dispatch, registry } from '../src/jobs/registry.js';
import { AlertMarks } from '../src/store/alert-marks.js';
import type { AlertEvent } from '../src/domain/alerts.js';
import type { Callguard } from '../src/app/callguard.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'], queues: ['calls'] } };

const event = (status: AlertEvent['status'], extra: Partial<AlertEvent> = {}): AlertEvent => ({
  source: 'alertmanager', id: 'fp-1', status, name: 'TwilioDown', reason: 'twilio 5xx', labels: {}, ...extra,
});

/** The handler only reads `data` and `timestamp` (when the job was enqueued). */
const job = (alerts: unknown[], timestamp: number) => ({ name: JOB.alert, data: { alerts }, timestamp });

describe('alert job handler', () => {
  let cg: Callguard;
  beforeEach(async () => {
    cg = await startTestCallguard(RULES, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
  });
  afterEach(() => stopTestCallguard(cg));

  /** Runs a job through the registry, as the health worker does: validation, then the handler. */
  const handler = () => {
    const jobs = registry([alertJob({ holds: cg.control, rules: cg.rules, marks: new AlertMarks(cg.redis, cg.keys) })]);
    return (j: { name: string; data: unknown; timestamp: number }) => dispatch(jobs, j);
  };

  it('when a resolved notice is handled before the firing one enqueued earlier, then the hold does not stay', async () => {
    const handle = handler();
    expect(await handle(job([event('resolved')], 2000))).toEqual({ outcomes: [{ hold: 'alert:alertmanager:fp-1', status: 'resolved', result: 'unchanged' }] });
    expect(await handle(job([event('firing')], 1000))).toEqual({ outcomes: [{ hold: 'alert:alertmanager:fp-1', status: 'firing', result: 'added-then-released' }] });
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
  });

  it('when the alert fires again after it resolved, then it holds again', async () => {
    const handle = handler();
    await handle(job([event('firing')], 1000));
    await handle(job([event('resolved')], 2000));
    expect(await handle(job([event('firing')], 3000))).toMatchObject({ outcomes: [{ result: 'added' }] });
    expect((await cg.ledger.list()).map((h) => h.id)).toEqual(['alert:alertmanager:fp-1']);
  });

  it('when the same firing notice repeats, then the second is unchanged and the audit has one entry', async () => {
    const handle = handler();
    await handle(job([event('firing', { rule: 'twilio' })], 1000));
    expect(await handle(job([event('firing', { rule: 'twilio' })], 1500))).toMatchObject({ outcomes: [{ result: 'unchanged' }] });
    const [hold] = await cg.ledger.list();
    expect(hold).toMatchObject({ kind: 'alert', scope: ['calls'], rule: 'twilio', by: 'alert:alertmanager', alertName: 'TwilioDown' });
    expect(await cg.ledger.audit()).toHaveLength(1);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(await cg.dispatch.get('sms')!.isPaused()).toBe(false);
  });

  it.each([
    ['no alerts', { alerts: [] }],
    ['not an object', 'firing'],
    ['a bad status', { alerts: [{ ...event('firing'), status: 'pending' }] }],
  ])('when the job data has %s, then the job fails for good and nothing changes', async (_what, data) => {
    const handle = handler();
    await expect(handle({ name: JOB.alert, data, timestamp: 1 })).rejects.toBeInstanceOf(UnrecoverableError);
    expect(await cg.ledger.list()).toEqual([]);
  });

  it('when another client enqueues an alert for an unknown queue, then the job fails for good and nothing changes', async () => {
    const handle = handler();
    await expect(handle(job([event('firing', { queues: ['fax'] })], 1))).rejects.toThrow(/unknown dispatch queue/);
    await expect(handle(job([event('firing', { queues: ['fax'] })], 1))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.ledger.audit()).toEqual([]);
  });
});
