/**
 * What operators' tools make of callguard's metrics: promtool accepts a real scrape as is, the
 * shipped alert rules pass `promtool check rules`, and every metric the rules and the Grafana
 * dashboard query is one callguard really exports. promtool comes from Debian's `prometheus`
 * package, installed here when missing (as root), never skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureDebianPackage } from './support/debian-package.js';
import { waitFor } from './support/harness.js';
import { request, startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';
import { parsePrometheus, type Families } from './support/prometheus.js';

const PROMTOOL = '/usr/bin/promtool';
const RULES = {
  twilio: { threshold_count: 3, window_minutes: 5, log_patterns: ['error when making call via twilio'] },
  plivo: { threshold_count: 10, window_minutes: 2, log_patterns: ['plivo error'] },
};

let t: TestHttp | undefined;
let scrape = '';
let families: Families;

beforeAll(async () => {
  ensureDebianPackage(PROMTOOL, 'prometheus');
  t = await startTestHttp(RULES);
  t.cg.reporter.report('twilio', 3);
  await t.cg.reporter.flush();
  await waitFor(() => t!.cg.dispatch.get('calls')!.isPaused());
  await t.cg.control.pause({ by: 'ops', reason: 'maintenance' });
  const reply = await request(`${t.url}/metrics`, { token: tokenOf('viewer') });
  expect(reply.status).toBe(200);
  scrape = reply.text;
  families = parsePrometheus(scrape);
}, 300_000);

afterAll(() => stopTestHttp(t));

const samples = (name: string) => [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name);
const value = (name: string, labels: Record<string, string> = {}) =>
  samples(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('GET /metrics under promtool', () => {
  it('promtool check metrics prints nothing for a real scrape', () => {
    const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it('keeps Node.js defaults under their standard names, without the *_total gauges', () => {
    expect(families.has('process_resident_memory_bytes')).toBe(true);
    expect(families.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(families.get('nodejs_active_handles')?.type).toBe('gauge');
    expect([...families.keys()].filter((n) => n.startsWith('callguard_process_') || n.startsWith('callguard_nodejs_'))).toEqual([]);
    for (const [name, f] of families) if (name.endsWith('_total')) expect(f.type, name).toBe('counter');
  });

  it('counts errors per rule, exports windows in seconds and when each hold began', () => {
    expect(value('callguard_errors_total', { rule: 'twilio' })).toBe(3);
    expect(value('callguard_errors_total', { rule: 'plivo' })).toBe(0);
    // The test minute is 1 s.
    expect(value('callguard_rule_window_seconds', { rule: 'twilio' })).toBe(5);
    expect(value('callguard_rule_window_seconds', { rule: 'plivo' })).toBe(2);
    expect(families.has('callguard_rule_window_minutes')).toBe(false);
    const since = samples('callguard_hold_since_timestamp_seconds');
    expect(since.map((s) => s.labels.kind).sort()).toEqual(['manual', 'rule']);
    expect(since.find((s) => s.labels.kind === 'rule')?.labels.hold).toBe('rule:twilio');
    for (const s of since) expect(Math.abs(s.value - Date.now() / 1000)).toBeLessThan(120);
  });

  it('has every labelled counter at 0 for its known labels before anything happened', () => {
    expect(value('callguard_transitions_total', { event: 'hold-released', cause: 'alert' })).toBe(0);
    expect(value('callguard_transitions_total', { event: 'hold-added', cause: 'rule' })).toBe(1);
    expect(value('callguard_ingest_jobs_total', { job: 'alert', outcome: 'failed' })).toBe(0);
    expect(value('callguard_ingest_jobs_total', { job: 'slack-action', outcome: 'completed' })).toBe(0);
    expect(value('callguard_notification_failures_total', { final: 'true' })).toBe(0);
    expect(value('callguard_notification_failures_total', { final: 'false' })).toBe(0);
    expect(value('callguard_state_lost_total')).toBe(0);
    expect(value('callguard_evaluator_duration_seconds_count', { kind: 'full' })).toBeGreaterThanOrEqual(1);
  });

  it('exports the events queue backlog: jobs by state and the oldest waiting job\'s age', () => {
    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(value('callguard_events_queue_jobs', { state }), state).toBeGreaterThanOrEqual(0);
    expect(value('callguard_events_queue_oldest_waiting_age_seconds')).toBeGreaterThanOrEqual(0);
  });
});
