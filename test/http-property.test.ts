/**
 * Property-based checks over the ingest and control bodies (issue 10, item 9): whatever the body,
 * never a 5xx; a rejection (4xx) changes nothing; a 202/200 always has its effect once its job ran.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import type { AlertOutcome } from '../src/jobs/alert-handler.js';
import { waitFor } from './support/harness.js';
import { postJson, startTestHttp, stopTestHttp, tokenOf, type Reply, type TestHttp } from './support/http.js';

// Thresholds far above anything these runs can report, so no rule hold appears on its own.
const RULES = {
  twilio: { threshold_count: 1_000_000, window_minutes: 600, log_patterns: ['twilio api error'] },
  plivo: { threshold_count: 1_000_000, window_minutes: 600, log_patterns: ['plivo api error'], queues: ['sms'] },
};
/** Runs per route; cases per run = one request. Bounded so the file stays well under 30 s. */
export const RUNS = { alert: 60, errors: 40, logs: 40, pause: 40, junk: 40 };

let t: TestHttp;
let cg: Callguard;
let seq = 0;

/** What a rejected request could have touched; evaluate jobs (the scheduler's) are left out. */
async function state() {
  return {
    holds: (await cg.ledger.list()).map((h) => h.id).sort(),
    counts: (await cg.counters.sums()).counts,
    audit: (await cg.ledger.audit(500)).map((e) => e.id),
  };
}

/** Jobs other than the scheduler's evaluate ticks enqueued since `since` (ms), in any state. */
async function enqueuedSince(since: number): Promise<string[]> {
  const jobs = await cg.events.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
  return jobs.filter((j) => j.name !== 'evaluate' && j.timestamp >= since).map((j) => `${j.name} ${j.id}`);
}

async function finished(jobId: string): Promise<unknown> {
  return waitFor(async () => {
    // State first, then the job: a job read before it completed carries no return value yet.
    const s = await cg.events.getJobState(jobId);
    if (s !== 'completed' && s !== 'failed') return undefined;
    const job = await cg.events.getJob(jobId);
    if (s === 'failed') throw new Error(`job ${jobId} failed: ${job?.failedReason}`);
    return { value: job!.returnvalue };
  }).then((r) => r.value);
}

/** Posts, then checks the three properties; `effect` checks what a success must have done. */
async function check(path: string, body: string, token: string, effect: (reply: Reply) => Promise<void>): Promise<void> {
  const before = await state();
  const since = Date.now();
  const reply = await postJson(`${t.url}${path}`, body, { token });
  expect(reply.status, reply.text).toBeLessThan(500);
  if (reply.status >= 400) {
    expect(reply.json?.error?.code, reply.text).toEqual(expect.any(String));
    expect(await state()).toEqual(before);
    expect(await enqueuedSince(since)).toEqual([]);
    return;
  }
  await effect(reply);
  if ((await cg.ledger.list()).length) await cg.control.resume({ by: 'property-test' });
}

const sized = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.nat({ max: 6000 }).map((n) => 'x'.repeat(n)) },
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const labelValue = fc.oneof({ weight: 5, arbitrary: sized }, { weight: 1, arbitrary: fc.integer() });
const rule = fc.constantFrom('twilio', 'plivo', 'no-such-rule', ' ', 'r'.repeat(300));
const queues = fc.constantFrom('calls', 'sms', 'calls, sms', 'fax', 'calls,fax', ',');

const alert = fc.record(
  {
    status: fc.constantFrom('firing', 'firing', 'resolved', 'pending'),
    labels: fc.record(
      { alertname: labelValue, callguard_rule: rule, callguard_queues: queues, severity: labelValue },
      { requiredKeys: [] },
    ),
    annotations: fc.record({ summary: sized, description: sized }, { requiredKeys: [] }),
    fingerprint: fc.oneof(fc.constant('short'), fc.constant('f'.repeat(400)), fc.constant(''), fc.constant(undefined)),
  },
  { requiredKeys: ['status'] },
);

/** Unique fingerprints per case, so no two alerts of these runs share a hold. */
const grouped = (alerts: Array<Record<string, unknown>>) => {
  const run = ++seq;
  return alerts.map((a, i) => (a.fingerprint === undefined ? a : { ...a, fingerprint: `${JSON.stringify(a.fingerprint)}-${run}-${i}` }));
};

const alertBody = fc.oneof(
  fc.array(alert, { minLength: 0, maxLength: 6 }).map((alerts) => ({ version: '4', status: 'firing', alerts: grouped(alerts) })),
  fc.array(alert, { minLength: 1, maxLength: 6 }).map((alerts) => ({ orgId: 1, state: 'alerting', title: 'x', alerts: grouped(alerts) })),
  fc
    .record({
      rule: maybe(rule),
      reason: maybe(sized),
      status: maybe(fc.constantFrom('firing', 'resolved', 'nope')),
      id: maybe(fc.constantFrom('inc', '', 'i'.repeat(250))),
    })
    .map((g) => {
      const run = ++seq;
      return g.id ? { ...g, id: `${g.id}-${run}` } : g;
    }),
);

describe('property: ingest and control bodies', () => {
  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    cg = t.cg;
  });
  afterAll(() => stopTestHttp(t));

  it(`POST /health/alert (${RUNS.alert} runs): a 202 means every listed alert took effect`, async () => {
    await fc.assert(
      fc.asyncProperty(alertBody, async (body) => {
        await check('/health/alert', JSON.stringify(body), tokenOf('alerts'), async (reply) => {
          expect(reply.status).toBe(202);
          const { outcomes } = (await finished(reply.json.job_id)) as { outcomes: AlertOutcome[] };
          expect(outcomes.filter((o) => o.result === 'failed')).toEqual([]);
          const held = new Set((await cg.ledger.list()).map((h) => h.id));
          for (const a of reply.json.alerts as Array<{ hold: string; status: string }>)
            expect(held.has(a.hold), a.hold).toBe(a.status === 'firing');
        });
      }),
      { numRuns: RUNS.alert },
    );
  });

  it(`POST /health/errors (${RUNS.errors} runs): a 202 counts exactly what it answered`, async () => {
    const report = fc.record(
      { rule: fc.oneof(rule, fc.integer()), count: maybe(fc.oneof(fc.integer({ min: -2, max: 50 }), fc.double(), fc.string())) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(report, fc.array(report, { maxLength: 4 })), async (body) => {
        const before = (await cg.counters.sums()).counts;
        await check('/health/errors', JSON.stringify(body), tokenOf('alerts'), async (reply) => {
          expect(reply.status).toBe(202);
          await finished(reply.json.job_id);
          const after = (await cg.counters.sums()).counts;
          for (const [r, n] of Object.entries(reply.json.counts as Record<string, number>)) expect(after[r]).toBe((before[r] ?? 0) + n);
        });
      }),
      { numRuns: RUNS.errors },
    );
  });

  it(`POST /health/logs (${RUNS.logs} runs): a 202 counts the records it matched`, async () => {
    const record = fc.oneof(
      fc.record(
        { msg: fc.constantFrom('twilio api error', 'plivo api error', 'fine'), level: fc.constantFrom(50, 30, 'error', 'nope') },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(record, fc.array(record, { maxLength: 5 })), async (body) => {
        const before = (await cg.counters.sums()).counts;
        await check('/health/logs', JSON.stringify(body), tokenOf('alerts'), async (reply) => {
          expect(reply.status).toBe(202);
          if (reply.json.job_id === null) return expect(reply.json.counts).toEqual({});
          await finished(reply.json.job_id);
          const after = (await cg.counters.sums()).counts;
          for (const [r, n] of Object.entries(reply.json.counts as Record<string, number>)) expect(after[r]).toBe((before[r] ?? 0) + n);
        });
      }),
      { numRuns: RUNS.logs },
    );
  });

  it(`POST /health/pause (${RUNS.pause} runs): a 200 means the hold is in the ledger`, async () => {
    const body = fc.record(
      {
        reason: fc.oneof(sized, fc.integer()),
        queues: fc.oneof(
          fc.constant([]),
          fc.constant(['calls']),
          fc.constant(['fax']),
          fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
          fc.constant('calls'),
        ),
        until: fc.constantFrom('2999-01-01T00:00:00Z', '2000-01-01T00:00:00Z', 'tomorrow', 42),
        queue: fc.constant(['calls']),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        await check('/health/pause', JSON.stringify(b), tokenOf('admin'), async (reply) => {
          expect(reply.status).toBe(200);
          expect((await cg.ledger.list()).map((h) => h.id)).toContain(reply.json.hold.id);
        });
      }),
      { numRuns: RUNS.pause },
    );
  });

  it(`any JSON on any of the four routes (${RUNS.junk} runs): never a 5xx, never a change on a rejection`, async () => {
    const routes = fc.constantFrom(
      ['/health/alert', 'alerts'],
      ['/health/errors', 'alerts'],
      ['/health/logs', 'alerts'],
      ['/health/pause', 'admin'],
    ) as fc.Arbitrary<[string, 'alerts' | 'admin']>;
    await fc.assert(
      fc.asyncProperty(routes, fc.oneof(fc.json(), fc.string({ maxLength: 40 })), async ([path, role], raw) => {
        await check(path, raw, tokenOf(role), async (reply) => {
          expect([200, 202]).toContain(reply.status);
          if (reply.json.job_id) await finished(reply.json.job_id);
        });
      }),
      { numRuns: RUNS.junk },
    );
  });
});
