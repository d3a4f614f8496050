import { UnrecoverableError } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertJob } from '../src/jobs/alert-handler.js';
import { JOB } from '../src/jobs/contract.js';
import { dispatch, registry } from '../src/jobs/registry.js';
import type { AlertEvent } from '../src/domain/alerts.js';
import type { Callguard } from '../src/app/callguard.js';
import { AlertMarks } from '../src/store/alert-marks.js';
import { JobReceipts } from '../src/store/job-receipts.js';
import type { JobPrincipal } from '../src/jobs/job-signer.js';
import { startTestCallguard, stopTestCallguard } from './support/harness.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'], queues: ['calls'] } };
const ALERTS: JobPrincipal = { name: 'alertmanager', role: 'alerts' };

const event = (status: AlertEvent['status'], extra: Partial<AlertEvent> = {}): AlertEvent => ({
  source: 'alertmanager',
  id: 'fp-1',
  status,
  name: 'TwilioDown',
  reason: 'twilio 5xx',
  labels: {},
  ...extra,
});

/** The worker passes `id`, `name`, `data` and `timestamp` (when the job was enqueued); data round-trips through JSON as in BullMQ. */
const asJob = (data: unknown, timestamp: number) => ({
  id: `j${timestamp}`,
  name: JOB.alert,
  data: JSON.parse(JSON.stringify(data)),
  timestamp,
});

describe('alert job handler', () => {
  let cg: Callguard;
  let handle: (job: ReturnType<typeof asJob>) => Promise<unknown>;
  /** Signed as POST /health/alert signs: for its job id, enqueued `timestamp` ms after a Redis time a minute ago. */
  const signed = (alerts: unknown[], timestamp: number, who: JobPrincipal = ALERTS) =>
    asJob(cg.signer.sign({ alerts, enqueued_at: T0 + timestamp }, who, { jobId: `j${timestamp}`, expiresAt: T0 + 120_000 }), timestamp);
  let T0: number;

  beforeEach(async () => {
    cg = await startTestCallguard(RULES, { CALLGUARD_QUEUES: 'calls,sms' }, { worker: false });
    T0 = (await cg.ledger.now()) - 60_000;
    // Run through the registry, as the health worker does: validation, then the handler.
    const jobs = registry([
      alertJob({
        holds: cg.control,
        rules: cg.rules,
        marks: new AlertMarks(cg.redis, cg.keys, 3),
        receipts: new JobReceipts(cg.redis, cg.keys),
        audit: cg.ledger,
        verifier: cg.signer,
        logger: cg.logger,
      }),
    ]);
    handle = (job) => dispatch(jobs, job);
  });
  afterEach(() => stopTestCallguard(cg));

  it('when a resolved notice is handled before the firing one enqueued earlier, then the hold does not stay', async () => {
    expect(await handle(signed([event('resolved')], 2000))).toEqual({
      outcomes: [{ hold: 'alert:alertmanager:fp-1', status: 'resolved', result: 'unchanged' }],
    });
    expect(await handle(signed([event('firing')], 1000))).toEqual({
      outcomes: [{ hold: 'alert:alertmanager:fp-1', status: 'firing', result: 'added-then-released' }],
    });
    expect(await cg.ledger.list()).toEqual([]);
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(false);
  });

  it('when the alert fires again after it resolved, then it holds again', async () => {
    await handle(signed([event('firing')], 1000));
    await handle(signed([event('resolved')], 2000));
    expect(await handle(signed([event('firing')], 3000))).toMatchObject({ outcomes: [{ result: 'added' }] });
    expect((await cg.ledger.list()).map((h) => h.id)).toEqual(['alert:alertmanager:fp-1']);
  });

  it('when the same firing notice repeats, then the second is unchanged, and hold and audit name the principal that sent it', async () => {
    await handle(signed([event('firing', { rule: 'twilio' })], 1000));
    expect(await handle(signed([event('firing', { rule: 'twilio' })], 1500))).toMatchObject({ outcomes: [{ result: 'unchanged' }] });
    const [hold] = await cg.ledger.list();
    expect(hold).toMatchObject({
      kind: 'alert',
      scope: ['calls'],
      rule: 'twilio',
      by: 'alertmanager',
      alertName: 'TwilioDown',
      source: 'alertmanager',
    });
    const audit = await cg.ledger.audit();
    // Newest first; the oldest is the seed's rules version 1.
    expect(audit.map((e) => e.event)).toEqual(['hold-added', 'rules-published']);
    expect(audit[0]).toMatchObject({ event: 'hold-added', by: 'alertmanager' });
    expect(await cg.dispatch.get('calls')!.isPaused()).toBe(true);
    expect(await cg.dispatch.get('sms')!.isPaused()).toBe(false);
  });

  it.each([
    ['no alerts', { alerts: [] }],
    ['not an object', 'firing'],
    ['a bad status', { alerts: [{ ...event('firing'), status: 'pending' }] }],
  ])('when the job data has %s, then the job fails for good, is audited, and nothing changes', async (_what, data) => {
    await expect(handle(asJob(data, 1))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(await cg.ledger.list()).toEqual([]);
    expect((await cg.ledger.audit()).map((e) => e.event)).toEqual(['job-refused', 'rules-published']);
  });

  it('when one alert of a group names an unknown queue, then the others still take effect and the bad one is audited', async () => {
    const out = await handle(signed([event('firing', { id: 'bad', queues: ['fax'] }), event('firing', { id: 'good' })], 1));
    expect(out).toMatchObject({
      outcomes: [
        { hold: 'alert:alertmanager:bad', result: 'failed', error: expect.stringMatching(/unknown dispatch queue/) },
        { hold: 'alert:alertmanager:good', result: 'added' },
      ],
    });
    expect((await cg.ledger.list()).map((h) => h.id)).toEqual(['alert:alertmanager:good']);
    expect((await cg.ledger.audit()).map((e) => [e.event, e.hold])).toEqual([
      ['hold-added', 'alert:alertmanager:good'],
      ['alert-failed', 'alert:alertmanager:bad'],
      ['rules-published', ''],
    ]);
  });

  describe('principals (issue 10, items 6 and 7)', () => {
    it('when a job names a principal without a valid signature, then it is refused and nothing changes', async () => {
      const forged = { alerts: [event('resolved')], principal: { name: 'ops-admin', role: 'admin' } };
      const tampered = {
        ...cg.signer.sign({ alerts: [event('firing')] }, ALERTS, { jobId: 'j1', expiresAt: Date.now() + 60_000 }),
        principal: { name: 'ops-admin', role: 'admin' },
      };
      for (const data of [forged, { ...forged, signature: 'a'.repeat(64) }, tampered]) {
        await expect(handle(asJob(data, 1))).rejects.toThrow(/forged principal/);
      }
      expect(await cg.ledger.list()).toEqual([]);
      expect((await cg.ledger.audit()).map((e) => e.event)).toEqual(['job-refused', 'job-refused', 'job-refused', 'rules-published']);
    });

    it('when a BullMQ client adds an unsigned job, then it acts as principal bullmq', async () => {
      await handle(asJob({ alerts: [event('firing')] }, 1));
      expect((await cg.ledger.list())[0]).toMatchObject({ by: 'bullmq' });
    });

    it('when another source resolves a hold, then it stays; its own source or an admin releases it', async () => {
      await handle(signed([event('firing')], 1000));
      const other = await handle(signed([event('resolved')], 2000, { name: 'grafana', role: 'alerts' }));
      expect(other).toMatchObject({ outcomes: [{ result: 'not-owner' }] });
      expect((await cg.ledger.list()).map((h) => h.id)).toEqual(['alert:alertmanager:fp-1']);
      expect((await cg.ledger.audit(1))[0]).toMatchObject({ event: 'release-refused', by: 'grafana' });

      expect(await handle(signed([event('resolved')], 3000, { name: 'ops-admin', role: 'admin' }))).toMatchObject({
        outcomes: [{ result: 'released' }],
      });
      await handle(signed([event('firing')], 4000));
      expect(await handle(signed([event('resolved')], 5000))).toMatchObject({ outcomes: [{ result: 'released' }] });
      expect(await cg.ledger.list()).toEqual([]);
    });
  });

  it('when an alert names an unknown callguard_rule, then its hold pauses every queue and its reason says why (issue 10)', async () => {
    await handle(signed([event('firing', { rule: 'twilo' })], 1));
    const [hold] = await cg.ledger.list();
    expect(hold).toMatchObject({ scope: 'all', reason: expect.stringContaining('unknown rule "twilo"') });
    expect((await cg.ledger.audit(1))[0]!.reason).toContain('unknown rule "twilo"');
  });

  it('when resolved notices arrive for alerts that never fired, then the markers stay capped in one sorted set (issue 10)', async () => {
    for (let i = 0; i < 10; i++) await handle(signed([event('resolved', { id: `never-${i}` })], 1000 + i));
    expect(await cg.redis.zcard(cg.keys.alertResolved)).toBe(3);
    expect(await cg.redis.keys(`${cg.config.prefix}:cg:alert-resolved:*`)).toEqual([]);
    // The newest marks are the ones kept: they are the ones a racing firing notice can still need.
    expect(await cg.redis.zrange(cg.keys.alertResolved, '0', '-1')).toEqual([
      '["alertmanager","alert:alertmanager:never-7"]',
      '["alertmanager","alert:alertmanager:never-8"]',
      '["alertmanager","alert:alertmanager:never-9"]',
    ]);
  });
});
