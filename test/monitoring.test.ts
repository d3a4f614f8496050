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

  it('docs/metrics.md lists every callguard metric a scrape has, and no other', () => {
    const readme = readFileSync('docs/metrics.md', 'utf8');
    const listed = new Set([...readme.matchAll(/^\| `(callguard_[a-z_]+)` \|/gm)].map((m) => m[1]!));
    expect([...listed].sort()).toEqual([...families.keys()].filter((n) => n.startsWith('callguard_')).sort());
  });

  it("exports the events queue backlog: jobs by state and the oldest waiting job's age", () => {
    for (const state of ['waiting', 'active', 'delayed', 'failed'])
      expect(value('callguard_events_queue_jobs', { state }), state).toBeGreaterThanOrEqual(0);
    expect(value('callguard_events_queue_oldest_waiting_age_seconds')).toBeGreaterThanOrEqual(0);
  });
});

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
// Series Prometheus makes itself for every scrape target.
const PROMETHEUS_SERIES = new Set(['up']);

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or template variables. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !PROMQL_WORDS.has(name.toLowerCase()));
}

function exported(name: string): boolean {
  if (PROMETHEUS_SERIES.has(name)) return true;
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return family !== undefined && (family.type === 'histogram' || family.type === 'summary' || family.samples.some((s) => s.name === name));
}

describe('deploy/prometheus-rules.yml and deploy/grafana-dashboard.json', () => {
  const rules = parse(readFileSync('deploy/prometheus-rules.yml', 'utf8'), { strict: true, uniqueKeys: true }) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const alerts = rules.groups.flatMap((g) => g.rules);
  const dashboard = JSON.parse(readFileSync('deploy/grafana-dashboard.json', 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const queries = dashboard.panels.flatMap((p) => p.targets.map((q) => ({ where: p.title, expr: q.expr })));

  it('promtool check rules accepts the alert rules', () => {
    expect(execFileSync(PROMTOOL, ['check', 'rules', 'deploy/prometheus-rules.yml'], { encoding: 'utf8' })).toContain(
      'SUCCESS: 5 rules found',
    );
  });

  it('alerts on callguard down, an old hold, a growing events backlog, failing notifications and lost state', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'CallguardDown',
      'CallguardHoldOlderThan30Minutes',
      'CallguardEventsBacklogGrowing',
      'CallguardNotificationsFailing',
      'CallguardStateLost',
    ]);
  });

  it('the metric name reader finds what an expression reads and nothing else', () => {
    expect(metricNames('time() - max by (hold, kind) (callguard_hold_since_timestamp_seconds{kind="rule"}) > 30 * 60')).toEqual([
      'callguard_hold_since_timestamp_seconds',
    ]);
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket[$__rate_interval]))) or on (a) y')).toEqual(['x_bucket', 'y']);
  });

  it('every metric the rules and the dashboard query is one callguard exports', () => {
    const used = [...alerts.map((a) => ({ where: a.alert, expr: a.expr })), ...queries];
    const missing = used.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !exported(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).toEqual([]);
    const names = new Set(used.flatMap(({ expr }) => metricNames(expr)));
    for (const n of [
      'callguard_errors_total',
      'callguard_rule_threshold',
      'callguard_holds',
      'callguard_transitions_total',
      'callguard_events_queue_jobs',
      'callguard_events_queue_oldest_waiting_age_seconds',
      'callguard_notification_failures_total',
      'callguard_state_lost_total',
    ])
      expect(names, n).toContain(n);
  });

  it('the dashboard covers errors vs threshold, holds, transitions, the events queue and notification failures', () => {
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const topic of [
      /threshold/i,
      /holds over time/i,
      /transitions/i,
      /events queue depth/i,
      /oldest waiting/i,
      /notification failures/i,
    ])
      expect(titles).toMatch(topic);
  });
});
