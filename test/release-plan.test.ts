import { describe, expect, it } from 'vitest';
import { releaseAfterRecovery } from '../src/domain/release-plan.js';
import { failoverLines, holdsSection } from '../src/http/console/holds-section.js';
import type { RuleRow } from '../src/http/console/snapshot.js';
import type { Hold, Rule } from '../src/domain/types.js';
import { formatStatus } from '../src/cli/format.js';
import type { ServiceStatusView } from '../src/http/api/views.js';

const rule = (extra: Partial<Rule> = {}): Rule =>
  ({
    name: 'twilio',
    windowMinutes: 5,
    thresholdCount: 10,
    patterns: ['twilio'],
    queues: 'all',
    minLevel: 40,
    mode: 'enforce',
    ...extra,
  }) as Rule;
const hold: Hold = { id: 'rule:twilio', kind: 'rule', rule: 'twilio', scope: 'all', by: 'callguard', reason: 'r', since: 0 };
const row = (r: Rule, state: RuleRow['state']): RuleRow => ({ rule: r, perMinute: [], count: 12, summary: '', state });

describe('the expected release time (issue: "after 5 min below threshold" took 14)', () => {
  it('a tripped rule: the window drains first, then the resume delay, then the probe', () => {
    expect(releaseAfterRecovery(rule(), 5)).toBe(
      'up to 10 min after the provider recovers (up to 5 min for the window to drain, then 5 min clear)',
    );
    expect(releaseAfterRecovery(rule({ probe: { minutes: 3, maxPerMinute: 10 } }), 5)).toBe(
      'up to 10 min after the provider recovers (up to 5 min for the window to drain, then 5 min clear, then a 3-min probe at 10/min before full speed)',
    );
  });

  it('the console says so for a tripped rule, and adds the probe to a clearing one', () => {
    const tripped = holdsSection([hold], [row(rule(), { state: 'tripped', effect: 'pause' })], 5, false);
    expect(tripped).toContain('up to 10 min after the provider recovers');
    const clearing = holdsSection(
      [hold],
      [
        row(rule({ probe: { minutes: 3, maxPerMinute: 10 } }), {
          state: 'clearing',
          minutes: 2,
          of: 5,
          resumeAt: Date.UTC(2026, 0, 1, 12),
        }),
      ],
      5,
      false,
    );
    expect(clearing).toMatch(/about .* \(clear for 2 of 5 min\), then a 3-min probe/);
  });
});

describe('callguard status wording', () => {
  const view = (over: Partial<ServiceStatusView>): ServiceStatusView =>
    ({
      is_paused: false,
      holds: [],
      rules: {},
      queues: {},
      auto_pause: 'on',
      now: '2026-01-01T00:00:00.000Z',
      ...over,
    }) as ServiceStatusView;
  const ruleView = (error_count: number) => ({ error_count, threshold: 10, window_minutes: 5, queues: 'all', clear_since: null }) as never;

  it('a count that reached its threshold is "threshold reached", one past it "over threshold"', () => {
    const out = formatStatus(view({ rules: { at: ruleView(10), over: ruleView(11), under: ruleView(9) } }), new URL('http://cg/'));
    expect(out).toMatch(/at +10\/10 \(threshold reached\) in 5 min/);
    expect(out).toMatch(/over +11\/10 \(over threshold\) in 5 min/);
    expect(out).toMatch(/under +9\/10 in 5 min/);
  });

  it('PAUSED when a queue is paused; "provider held" when only providers are held', () => {
    const queues = { calls: { paused: false, held: false, counts: {} } } as never;
    const providerHold = {
      id: 'manual:1',
      kind: 'manual',
      effect: 'pause',
      scope: ['calls'],
      providers: ['twilio'],
      by: 'ops',
      reason: 'r',
    } as never;
    expect(formatStatus(view({ is_paused: true, queues, holds: [providerHold] }), new URL('http://cg/'))).toMatch(
      /^callguard http:\/\/cg\/ {2}provider held \(twilio; queues running\) {2}/,
    );
    const paused = { calls: { paused: true, held: true, counts: {} } } as never;
    expect(formatStatus(view({ is_paused: true, queues: paused, holds: [providerHold] }), new URL('http://cg/'))).toMatch(
      /^callguard http:\/\/cg\/ {2}PAUSED {2}/,
    );
    expect(formatStatus(view({ queues }), new URL('http://cg/'))).toMatch(/^callguard http:\/\/cg\/ {2}running {2}/);
  });

  it('a line per held provider says where its calls go, or that they wait', () => {
    const failover = [
      { queue: 'calls', provider: 'twilio', goes_to: ['plivo', 'exotel'], failed_over: 12 },
      { queue: 'sms', provider: 'twilio', goes_to: [], failed_over: 0 },
    ];
    const out = formatStatus(view({ failover }), new URL('http://cg/'));
    expect(out).toContain('  failover: twilio held on calls: its calls go to plivo or exotel (12 failed over)\n');
    expect(out).toContain('  failover: twilio held on sms: its jobs wait (no other candidate listed) (0 failed over)\n');
  });
});

describe('the console’s failover lines', () => {
  it('one per held provider, escaped', () => {
    const html = failoverLines([
      { queue: 'calls', provider: 'twilio', to: ['plivo'], failedOver: 3 },
      { queue: 'calls', provider: '<b>x', to: [], failedOver: 0 },
    ]);
    expect(html).toContain('<li><code>twilio</code> held on calls: its calls go to plivo <span class="muted">3 failed over</span></li>');
    expect(html).toContain('<code>&lt;b&gt;x</code> held on calls: its jobs wait');
    expect(failoverLines([])).toBe('');
  });
});
