import type { KnownBlock } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { actor, duration, time } from '../src/notify/format.js';
import {
  pausedMessage,
  pressedMessage,
  resumedMessage,
  RESUME_ACTION_ID,
  stillPausedMessage,
  type MessageSettings,
  type SlackMessage,
} from '../src/notify/messages.js';
import type { Hold } from '../src/domain/types.js';

const T0 = Date.UTC(2025, 2, 4, 12, 0, 0);
const MIN = 60_000;
const settings: MessageSettings = { queues: ['calls', 'sms'], autoResumeMinutes: 5 };

const ruleHold: Hold = {
  id: 'rule:twilio',
  kind: 'rule',
  scope: 'all',
  by: 'callguard',
  reason: 'twilio: 12 errors in 5 min (threshold 10)',
  since: T0,
  rule: 'twilio',
  count: 12,
  threshold: 10,
  windowMinutes: 5,
};
const alertHold: Hold = {
  id: 'alert:grafana:abc',
  kind: 'alert',
  scope: ['calls'],
  by: 'alert:grafana',
  reason: 'error rate above 5%',
  since: T0,
  alertName: 'HighErrorRate',
  source: 'grafana',
};
const manualHold: Hold = {
  id: 'manual:42',
  kind: 'manual',
  scope: ['sms'],
  by: 'alice',
  reason: 'carrier maintenance <tonight> & co',
  since: T0,
};

/** Everything a reader sees in Block Kit, flattened: header, fields, section and context texts. */
function blockText(m: SlackMessage): string {
  const out: string[] = [];
  const visit = (b: KnownBlock) => {
    if (b.type === 'header') out.push(b.text.text);
    if (b.type === 'section') {
      if (b.text) out.push(b.text.text);
      for (const f of b.fields ?? []) out.push(f.text);
    }
    if (b.type === 'context') for (const e of b.elements) if ('text' in e) out.push(e.text);
  };
  m.blocks.forEach(visit);
  return out.join('\n');
}

const buttons = (m: SlackMessage) => m.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : [])).filter((e) => e.type === 'button');

describe('paused message', () => {
  it('names the rule with its count, threshold and window, every queue with its waiting jobs, and the resume condition', () => {
    const m = pausedMessage({ hold: ruleHold, paused: ['calls', 'sms'], waiting: { calls: 120, sms: 3 }, otherHolds: [] }, settings);
    expect(m.text).toBe(
      'Calls paused. Hold: rule twilio: 12 errors in 5 min (threshold 10). Queues: calls (120 waiting), sms (3 waiting). ' +
        'Paused at: 2025-03-04 12:00:00 UTC. Resumes: up to 10 min after the provider recovers (up to 5 min for the window to drain, then 5 min clear).',
    );
    const shown = blockText(m);
    expect(shown).toContain(':double_vertical_bar: Calls paused');
    expect(shown).toContain('*Hold*\nrule `twilio`: 12 errors in 5 min (threshold 10)');
    expect(shown).toContain('*Queues*\n`calls` (120 waiting), `sms` (3 waiting)');
    expect(shown).toContain(`<!date^${T0 / 1000}^{date_short_pretty} {time_secs}|2025-03-04 12:00:00 UTC>`);
    expect(shown).toContain('*Resumes*\nup to 10 min after the provider recovers');
    expect(shown).toContain('hold `rule:twilio`');
  });

  it("gives a rule hold's way out from the rule in force: its window now and its probe", () => {
    const rules = [
      {
        name: 'twilio',
        thresholdCount: 10,
        windowMinutes: 15,
        logPatterns: [],
        queues: 'all' as const,
        minLevel: 0,
        probe: { minutes: 3, maxPerMinute: 6 },
      },
    ];
    const m = pausedMessage({ hold: ruleHold, paused: ['calls'], waiting: {}, otherHolds: [] }, { ...settings, rules });
    expect(m.text).toContain(
      'Resumes: up to 20 min after the provider recovers (up to 15 min for the window to drain, then 5 min clear, then a 3-min probe at 6/min before full speed).',
    );
    const gone = pausedMessage({ hold: ruleHold, paused: ['calls'], waiting: {}, otherHolds: [] }, { ...settings, rules: [] });
    expect(gone.text).toContain(
      'Resumes: up to 10 min after the provider recovers (up to 5 min for the window to drain, then 5 min clear).',
    );
  });

  it('carries a "Resume calls" button whose value is the hold id, behind a confirmation', () => {
    const m = pausedMessage({ hold: alertHold, paused: ['calls'], waiting: {}, otherHolds: [] }, settings);
    const [button, ...more] = buttons(m);
    expect(more).toEqual([]);
    expect(button).toMatchObject({ action_id: RESUME_ACTION_ID, value: 'alert:grafana:abc', text: { text: 'Resume calls' } });
    expect(button).toHaveProperty('confirm.confirm.text', 'Resume');
  });

  it.each<[string, Hold, string, string]>([
    ['an alert', alertHold, 'alert "HighErrorRate" from grafana — error rate above 5%', 'when the alert resolves'],
    ['a person', manualHold, 'alice: "carrier maintenance &lt;tonight&gt; &amp; co"', 'by a person'],
    [
      'a person, until a time',
      { ...manualHold, until: T0 + 90 * MIN },
      'alice: "carrier maintenance &lt;tonight&gt; &amp; co"',
      'at 2025-03-04 13:30:00 UTC, or earlier by a person',
    ],
  ])('when held by %s, the text says who and how it resumes', (_, hold, who, how) => {
    const m = pausedMessage({ hold, paused: ['calls'], waiting: {}, otherHolds: [] }, settings);
    expect(m.text).toContain(`Hold: ${who}.`);
    expect(m.text).toContain(`Resumes: ${how}.`);
  });

  it('escapes Slack control characters in what people and alerts wrote, in blocks and in the fallback text', () => {
    const m = pausedMessage({ hold: manualHold, paused: ['sms'], waiting: {}, otherHolds: [] }, settings);
    expect(blockText(m)).toContain('alice: "carrier maintenance &lt;tonight&gt; &amp; co"');
    expect(m.text).toContain('alice: "carrier maintenance &lt;tonight&gt; &amp; co"');
  });

  it('when an alert summary carries <!channel> or a link, then the fallback text cannot ping or link (issue 10)', () => {
    const hold = { ...manualHold, reason: 'wake up <!channel> see <https://evil.example|here>' };
    const m = pausedMessage({ hold, paused: ['sms'], waiting: {}, otherHolds: [] }, settings);
    expect(m.text).not.toMatch(/[<>]/);
    expect(m.text).toContain('&lt;!channel&gt;');
  });

  it('when other holds had already paused the queues, it says so and lists them', () => {
    const m = pausedMessage({ hold: alertHold, paused: [], waiting: { calls: 7 }, otherHolds: [ruleHold] }, settings);
    expect(m.text.startsWith('New hold on calls that were already paused.')).toBe(true);
    expect(m.text).toContain('Also held by: rule twilio: 12 errors in 5 min (threshold 10).');
    expect(m.text).toContain('Queues: calls (7 waiting).');
  });

  it('a queue whose waiting count is unknown is listed without one', () => {
    const m = pausedMessage({ hold: ruleHold, paused: ['calls', 'sms'], waiting: { sms: 0 }, otherHolds: [] }, settings);
    expect(m.text).toContain('Queues: calls, sms (0 waiting).');
  });

  it('stays within Block Kit limits for very long reasons', () => {
    const m = pausedMessage({ hold: { ...manualHold, reason: 'x'.repeat(5000) }, paused: ['sms'], waiting: {}, otherHolds: [] }, settings);
    expect(m.text.length).toBeLessThanOrEqual(3000);
    for (const b of m.blocks) if (b.type === 'section') for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
  });
});

describe('resumed message', () => {
  it('says what held it, for how long, and who resumed it why', () => {
    const m = resumedMessage(
      {
        hold: ruleHold,
        resumed: ['calls', 'sms'],
        by: 'callguard',
        reason: 'twilio below threshold (2/10) for 5 min',
        at: T0 + 14 * MIN + 3000,
        stillHeld: [],
      },
      settings,
    );
    expect(m.text).toBe(
      'Calls resumed. Was held by: rule twilio: 12 errors in 5 min (threshold 10). Paused for: 14 min 3 s (since 2025-03-04 12:00:00 UTC). ' +
        'Resumed by: callguard (automatic): twilio below threshold (2/10) for 5 min. Queues: calls, sms.',
    );
    expect(buttons(m)).toEqual([]);
  });

  it('names a Slack presser as a mention in blocks', () => {
    const m = resumedMessage(
      {
        hold: manualHold,
        resumed: ['sms'],
        by: 'slack:U024BE7LH',
        reason: 'Resume calls pressed in Slack',
        at: T0 + 65 * MIN,
        stillHeld: [],
      },
      settings,
    );
    expect(blockText(m)).toContain('*Resumed by*\n<@U024BE7LH>: Resume calls pressed in Slack');
    expect(m.text).toContain('Paused for: 1 h 5 min');
    expect(m.text).toContain('Resumed by: Slack user U024BE7LH');
  });

  it('a half-open resume says the queues run at the probe rate until the probe ends', () => {
    const probe: Hold = { ...ruleHold, effect: 'probe', maxPerMinute: 4, since: T0 + 20 * MIN, until: T0 + 23 * MIN };
    const m = resumedMessage(
      { hold: ruleHold, resumed: ['calls', 'sms'], by: 'callguard', reason: 'clear', at: T0 + 20 * MIN, stillHeld: [], probe },
      settings,
    );
    expect(m.text.startsWith('Calls resumed at a probe rate.')).toBe(true);
    expect(m.text).toContain('Probe: at most 4 jobs/min until 2025-03-04 12:23:00 UTC; full speed after that');
  });

  it('when other holds still pause the queues, it says calls stay paused and by what', () => {
    const m = resumedMessage(
      { hold: alertHold, resumed: [], by: 'alert:grafana', reason: 'resolved', at: T0 + MIN, stillHeld: [ruleHold] },
      settings,
    );
    expect(m.text.startsWith('Hold released, calls stay paused.')).toBe(true);
    expect(m.text).toContain('Still held by: rule twilio');
    expect(m.text).toContain('Resumed by: the grafana alert: resolved');
  });
});

describe('still-paused reminder', () => {
  it('says how long, by whom and why, with waiting jobs and a button', () => {
    const m = stillPausedMessage({ hold: manualHold, now: T0 + 30 * MIN, waiting: { sms: 41 } }, settings);
    expect(m.text).toBe(
      'Calls still paused after 30 min. Hold: alice: "carrier maintenance &lt;tonight&gt; &amp; co". Queues: sms (41 waiting). ' +
        'Paused at: 2025-03-04 12:00:00 UTC. Resumes: by a person.',
    );
    expect(buttons(m)).toHaveLength(1);
  });
});

describe('message after "Resume calls" was pressed', () => {
  const original = pausedMessage({ hold: manualHold, paused: ['sms'], waiting: {}, otherHolds: [] }, settings);

  it('drops the button and says who resumed it', () => {
    const m = pressedMessage(original, { userId: 'U024BE7LH', at: T0, released: true });
    expect(buttons(m)).toEqual([]);
    expect(blockText(m)).toContain(':white_check_mark: Resumed by <@U024BE7LH> at <!date^');
    expect(blockText(m)).toContain('*Hold*\nalice');
    expect(m.text).toBe(`${original.text} — resumed by Slack user U024BE7LH`);
  });

  it('says so when the hold had already been released', () => {
    const m = pressedMessage(original, { userId: 'U024BE7LH', at: T0, released: false });
    expect(blockText(m)).toContain('the hold had already been released');
  });
});

describe('wording helpers', () => {
  it.each([
    [0, '0 s'],
    [999, '1 s'],
    [59_000, '59 s'],
    [60_000, '1 min'],
    [61_000, '1 min 1 s'],
    [3_600_000, '1 h'],
    [3_660_000, '1 h 1 min'],
    [90_000_000, '1 d 1 h'],
    [-5000, '0 s'],
  ])('duration(%i) = %s', (ms, s) => expect(duration(ms)).toBe(s));

  it.each([
    ['slack:U1', 'mrkdwn', '<@U1>'],
    ['slack:U1', 'plain', 'Slack user U1'],
    ['callguard', 'plain', 'callguard (automatic)'],
    ['alert:alertmanager', 'plain', 'the alertmanager alert'],
    ['bob<script>', 'mrkdwn', 'bob&lt;script&gt;'],
  ] as const)('actor(%s, %s) = %s', (by, f, s) => expect(actor(by, f)).toBe(s));

  it('time() falls back to UTC in plain text', () => expect(time(T0, 'plain')).toBe('2025-03-04 12:00:00 UTC'));
});

describe('provider holds', () => {
  const providerHold: Hold = {
    ...ruleHold,
    id: 'rule:twilio-calls',
    rule: 'twilio-calls',
    scope: ['calls'],
    providers: ['twilio'],
    reason: 'twilio-calls: 12 of 20 calls failed in 5 min (60 %, threshold 50 %)',
    calls: 20,
    failures: 12,
    slow: 0,
  };

  it('a provider hold says whose calls are held, in words the rate rule gave, and that other providers keep running', () => {
    const m = pausedMessage({ hold: providerHold, paused: ['calls:twilio'], waiting: { calls: 40 }, otherHolds: [] }, settings);
    expect(m.text).toContain('Calls to twilio held. Hold: rule twilio-calls: 12 of 20 calls failed in 5 min (60 %, threshold 50 %).');
    const shown = blockText(m);
    expect(shown).toContain(':double_vertical_bar: Calls to twilio held');
    expect(shown).toContain('*Providers*\n`twilio` only; other providers’ calls keep running');
    expect(shown).toContain('*Queues*\n`calls` (40 waiting)');
  });

  it('a throttle says the rate, and its end says full speed again', () => {
    const throttle: Hold = { ...providerHold, effect: 'throttle', maxPerMinute: 30 };
    expect(pausedMessage({ hold: throttle, paused: [], waiting: {}, otherHolds: [] }, settings).text).toMatch(
      /^Calls to twilio throttled to 30 per minute\. /,
    );
    const ended = resumedMessage(
      { hold: throttle, resumed: [], by: 'callguard', reason: 'clear', at: T0 + 5 * MIN, stillHeld: [] },
      settings,
    );
    expect(ended.text).toMatch(/^Calls to twilio at full speed again\. /);
  });

  it('a released provider hold says its calls resumed', () => {
    const m = resumedMessage(
      { hold: providerHold, resumed: ['calls:twilio'], by: 'callguard', reason: 'clear', at: T0 + 9 * MIN, stillHeld: [] },
      settings,
    );
    expect(m.text).toMatch(/^Calls to twilio resumed\. /);
  });

  it('with failover, the hold says where the held provider’s calls go and the release how many went there', () => {
    const held = pausedMessage(
      { hold: providerHold, paused: ['calls:twilio'], waiting: {}, otherHolds: [], failover: { twilio: ['plivo'] } },
      settings,
    );
    expect(held.text).toMatch(/^twilio held: its calls go to plivo\. /);
    expect(blockText(held)).toContain(':double_vertical_bar: twilio held: its calls go to plivo');
    const released = resumedMessage(
      { hold: providerHold, resumed: ['calls:twilio'], by: 'callguard', reason: 'clear', at: T0 + 9 * MIN, stillHeld: [], failedOver: 412 },
      settings,
    );
    expect(blockText(released)).toContain('*Failed over*\n412 calls went to other providers while held');
    const none = resumedMessage(
      { hold: providerHold, resumed: ['calls:twilio'], by: 'callguard', reason: 'clear', at: T0 + 9 * MIN, stillHeld: [], failedOver: 0 },
      settings,
    );
    expect(blockText(none)).not.toContain('Failed over');
  });
});
