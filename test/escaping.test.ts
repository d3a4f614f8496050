import type { KnownBlock } from '@slack/web-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Hold } from '../src/domain/types.js';
import { formatAudit, formatPause, formatResume, formatStatus, safeForTerminal } from '../src/cli/format.js';
import {
  pausedMessage,
  probePassedMessage,
  resumedMessage,
  silenceMessage,
  rulesPublishedMessage,
  stillPausedMessage,
  wouldPauseMessage,
  type SlackMessage,
} from '../src/notify/messages.js';

/** Issue 19, item 5: strings from outside are escaped in every Slack field and in the CLI's output. */
const EVIL = '<!channel> <https://evil.example|click> <@U0EVIL> & \u001b[31mred\u001b[0m';
const T0 = Date.UTC(2025, 2, 4, 12, 0, 0);
const settings = { queues: ['calls', 'sms'], autoResumeMinutes: 5 };

/** Every text Slack parses: the fallback and each mrkdwn text of the blocks. */
function parsed(m: SlackMessage): string[] {
  const out = [m.text];
  const visit = (b: KnownBlock) => {
    if (b.type === 'section') {
      if (b.text?.type === 'mrkdwn') out.push(b.text.text);
      for (const f of b.fields ?? []) if (f.type === 'mrkdwn') out.push(f.text);
    }
    if (b.type === 'context') for (const e of b.elements) if ('text' in e && e.type === 'mrkdwn') out.push(e.text);
  };
  m.blocks.forEach(visit);
  return out;
}

/** What remains of Slack's control syntax once our own dates and Slack-user mentions are taken out: nothing. */
const foreignControls = (text: string) =>
  text
    .replace(/<!date\^\d+\^[^|>]*\|[^>]*>/g, '')
    .replace(/<@U[A-Z0-9]{1,31}>/g, '')
    .match(/<|>/g) ?? [];

const holdsWith = (s: string): Hold[] => [
  { id: `alert:am:${s}`, kind: 'alert', scope: ['calls'], by: s, reason: s, since: T0, alertName: s, source: s },
  { id: `manual:${s}`, kind: 'manual', scope: ['sms'], by: s, reason: s, since: T0 },
  { id: `rule:x`, kind: 'rule', scope: 'all', by: 'callguard', reason: s, since: T0, rule: s, count: 1, threshold: 1, windowMinutes: 1 },
];

function everyMessage(s: string): SlackMessage[] {
  return holdsWith(s).flatMap((hold) => [
    pausedMessage({ hold, paused: ['calls'], waiting: { calls: 1 }, otherHolds: holdsWith(s) }, settings),
    resumedMessage({ hold, resumed: ['calls'], by: s, reason: s, at: T0 + 1000, stillHeld: holdsWith(s) }, settings),
    stillPausedMessage({ hold, now: T0 + 1000, waiting: {} }, settings),
    wouldPauseMessage({ hold, waiting: {} }, settings),
    probePassedMessage({ hold, at: T0 + 1000 }, settings),
    silenceMessage({
      event: 'silence-added',
      silence: { id: 's', rules: [s], until: T0 + 1000, reason: s, by: s, since: T0 },
      by: s,
      at: T0,
    }),
    rulesPublishedMessage({
      version: 2,
      by: s,
      source: 'api',
      reason: s,
      changes: [{ path: `${s}.threshold_count`, before: s, after: 3 }],
      at: T0,
    }),
  ]);
}

describe('Slack messages', () => {
  it('when an alert is named "<!channel> <https://evil.example|click>", then no Slack-parsed text carries a ping or a link', () => {
    for (const m of everyMessage(EVIL)) for (const text of parsed(m)) expect(foreignControls(text), text).toEqual([]);
  });

  it('the “Resumed by” field shows the reason escaped', () => {
    const [hold] = holdsWith('x');
    const m = resumedMessage(
      { hold: hold!, resumed: ['calls'], by: 'am', reason: `resolved: ${EVIL}`, at: T0 + 1, stillHeld: [] },
      settings,
    );
    expect(parsed(m).join('\n')).toContain('resolved: &lt;!channel&gt; &lt;https://evil.example|click&gt;');
  });

  it('property: whatever the outside strings, no message carries Slack control syntax of theirs', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('<', '>', '!', '@', '&', '|', 'a', 'U', '#', ' ', '^') }), (s) => {
        for (const m of everyMessage(s)) for (const text of parsed(m)) expect(foreignControls(text)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the CLI’s output', () => {
  const status = {
    is_paused: true,
    auto_pause: 'on',
    now: '2025-03-04T12:00:00Z',
    queues: { calls: { paused: true, held: true, counts: { waiting: 1 } } },
    holds: [
      {
        id: 'alert:am:\u001b]0;pwned\u0007',
        kind: 'alert',
        effect: 'pause',
        by: 'am',
        since: 'x',
        scope: ['calls'],
        reason: 'bad\r\u001b[2Kfake line\u009b31m \u202eevil',
      },
    ],
    rules: {},
  };

  it('shows terminal control characters from outside as escapes, never sends them', () => {
    const out = [
      formatStatus(status as never, new URL('http://127.0.0.1:3000/')),
      formatPause({ hold: { ...status.holds[0], scope: ['calls'] }, paused_by: '\u001b[31mred', newly_paused: [] } as never),
      formatResume({ released: status.holds, resumed_by: '\u001b[31mred', newly_resumed: ['c\u0007'] } as never),
      formatAudit([
        { at: 'x', event: 'hold-added', hold: 'h\u001b[1A', by: '\u001b[31m', paused: [], resumed: [], reason: 'r\nfake' },
      ] as never),
    ].join('');
    // Only the formatter's own newlines remain.
    // eslint-disable-next-line no-control-regex
    expect(out.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(out).toContain('\\x1b[2Kfake line');
    expect(out).toContain('\\u202eevil');
    expect(out).toContain('r\\x0afake');
  });

  it('safeForTerminal leaves ordinary text alone', () => {
    expect(safeForTerminal({ a: ['twilio 5xx – ünïcode ✓'] })).toEqual({ a: ['twilio 5xx – ünïcode ✓'] });
  });
});
