/** Pure Slack messages (Block Kit plus the plain `text` fallback) for hold transitions. */
import type { KnownBlock } from '@slack/web-api';
import { queuesOf, type Hold } from '../domain/hold.js';
import type { PublishedRules, RulesSource } from '../domain/rules-doc.js';
import type { Silence } from '../domain/silence.js';
import type { Rule } from '../domain/types.js';
import { actor, clip, code, describeHold, duration, queueList, resumePlan, text as mrkdwnText, time, type Flavour } from './format.js';

const escapeControl = (s: string) => mrkdwnText(s, 'mrkdwn');

export const RESUME_ACTION_ID = 'callguard_resume';

/** Slack's limits: characters of a text field (section text, message fallback) and blocks per message. */
export const SLACK_TEXT_MAX = 3000;
export const SLACK_BLOCKS_MAX = 50;
/** Characters of a header block's text and of one section field. */
const SLACK_HEADER_MAX = 150;
const SLACK_FIELD_MAX = 2000;

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export interface MessageSettings {
  /** Every configured dispatch queue, to spell out a hold scoped to "all". */
  queues: string[];
  autoResumeMinutes: number;
  /** The rules in force (a live array), for a rule hold's way out. */
  rules?: readonly Rule[];
}

export interface PausedNotice {
  hold: Hold;
  /** Queues this hold newly paused; empty when other holds had already paused them. */
  paused: string[];
  /** Jobs waiting per dispatch queue, when known. */
  waiting: Record<string, number>;
  /** Other holds covering any queue of this one. */
  otherHolds: Hold[];
  /** Per held provider, the providers its jobs list next (where its calls go meanwhile), when workers noted them. */
  failover?: Record<string, string[]>;
}

export interface ResumedNotice {
  hold: Hold;
  /** Queues left with no hold; empty when other holds still pause them. */
  resumed: string[];
  by: string;
  reason: string;
  at: number;
  /** Holds still covering any queue of this one. */
  stillHeld: Hold[];
  /** When the queues come back rate-limited first (half-open resume), the probe hold. */
  probe?: Hold;
  /** Jobs of the held providers that ran on another candidate while they were held. */
  failedOver?: number;
}

export interface StillPausedNotice {
  hold: Hold;
  now: number;
  waiting: Record<string, number>;
}

/** Whose calls a hold stops or slows: "Calls", or "Calls to twilio, plivo" for a provider hold. */
function whose(hold: Hold): string {
  return hold.providers?.length ? `Calls to ${hold.providers.join(', ')}` : 'Calls';
}

function providerFields(hold: Hold, f: Flavour): Array<readonly [string, string]> {
  if (!hold.providers?.length) return [];
  return [['Providers', `${hold.providers.map((p) => code(p, f)).join(', ')} only; other providers’ calls keep running`]];
}

/** "twilio held: its calls go to plivo", for the held providers whose jobs list other candidates. */
function goingTo(failover: Record<string, string[]> | undefined): string | undefined {
  const parts = Object.entries(failover ?? {}).filter(([, to]) => to.length);
  if (!parts.length) return undefined;
  return parts.map(([from, to]) => `${from} held: its calls go to ${to.join(' or ')}`).join('; ');
}

export function pausedMessage(n: PausedNotice, s: MessageSettings): SlackMessage {
  const queues = queuesOf(n.hold.scope, s.queues);
  const rate = n.hold.kind === 'rule' && n.hold.effect === 'throttle' ? n.hold.maxPerMinute : undefined;
  const title =
    rate !== undefined
      ? `${whose(n.hold)} throttled to ${rate} per minute`
      : n.paused.length
        ? (goingTo(n.failover) ?? `${whose(n.hold)} ${n.hold.providers?.length ? 'held' : 'paused'}`)
        : 'New hold on calls that were already paused';
  const fields = (f: Flavour) =>
    [
      ['Hold', describeHold(n.hold, f)],
      ['Queues', queueList(queues, n.waiting, f)],
      ...providerFields(n.hold, f),
      ['Paused at', time(n.hold.since, f)],
      ['Resumes', resumePlan(n.hold, s, f)],
      ...others('Also held by', n.otherHolds, f),
    ] as const;
  return build(`:double_vertical_bar: ${title}`, title, fields, n.hold, true);
}

export function resumedMessage(n: ResumedNotice, s: MessageSettings): SlackMessage {
  const queues = queuesOf(n.hold.scope, s.queues);
  const throttled = n.hold.kind === 'rule' && n.hold.effect === 'throttle';
  const title = throttled
    ? `${whose(n.hold)} at full speed again`
    : !n.resumed.length
      ? 'Hold released, calls stay paused'
      : n.probe
        ? `${whose(n.hold)} resumed at a probe rate`
        : `${whose(n.hold)} resumed`;
  const fields = (f: Flavour) =>
    [
      ['Was held by', describeHold(n.hold, f)],
      ...providerFields(n.hold, f),
      ['Paused for', `${duration(n.at - n.hold.since)} (since ${time(n.hold.since, f)})`],
      ['Resumed by', `${actor(n.by, f)}: ${mrkdwnText(clip(n.reason, 300), f)}`],
      ['Queues', n.resumed.length ? queueList(n.resumed, {}, f) : queueList(queues, {}, f)],
      ...(n.resumed.length && n.probe ? [['Probe', probeText(n.probe, f)] as const] : []),
      ...(n.failedOver ? [['Failed over', `${n.failedOver} calls went to other providers while held`] as const] : []),
      ...others('Still held by', n.stillHeld, f),
    ] as const;
  return build(`:arrow_forward: ${title}`, title, fields, n.hold, false);
}

export function stillPausedMessage(n: StillPausedNotice, s: MessageSettings): SlackMessage {
  const queues = queuesOf(n.hold.scope, s.queues);
  const title = `Calls still paused after ${duration(n.now - n.hold.since)}`;
  const fields = (f: Flavour) =>
    [
      ['Hold', describeHold(n.hold, f)],
      ['Queues', queueList(queues, n.waiting, f)],
      ['Paused at', time(n.hold.since, f)],
      ['Resumes', resumePlan(n.hold, s, f)],
    ] as const;
  return build(`:hourglass: ${title}`, title, fields, n.hold, true);
}

/** Shadow mode: the rule tripped and would have paused these queues; nothing was touched. */
export function wouldPauseMessage(n: { hold: Hold; waiting: Record<string, number> }, s: MessageSettings): SlackMessage {
  const queues = queuesOf(n.hold.scope, s.queues);
  const title = 'Would have paused calls (shadow mode)';
  const fields = (f: Flavour) =>
    [
      ['Rule', describeHold(n.hold, f)],
      ['Would have paused', queueList(queues, n.waiting, f)],
      ['At', time(n.hold.since, f)],
      ['Nothing was paused', 'the rule runs in shadow mode; set "mode": "enforce" (and CALLGUARD_AUTO_PAUSE=on) to let it pause'],
    ] as const;
  return build(`:ghost: ${title}`, title, fields, n.hold, false);
}

/** A half-open probe ran its course without the rule tripping: the rate limit is gone. */
export function probePassedMessage(n: { hold: Hold; at: number }, s: MessageSettings): SlackMessage {
  const queues = queuesOf(n.hold.scope, s.queues);
  const title = 'Probe passed, calls at full speed';
  const fields = (f: Flavour) =>
    [
      ['Rule', describeHold(n.hold, f)],
      [
        'Probe',
        `${duration(n.at - n.hold.since)} at ${(n.hold.kind === 'rule' ? n.hold.maxPerMinute : undefined) ?? '?'} jobs/min without tripping`,
      ],
      ['Queues', queueList(queues, {}, f)],
    ] as const;
  return build(`:white_check_mark: ${title}`, title, fields, n.hold, false);
}

/** Redis lost callguard's state: every hold from before is gone, so queues may run that were paused. */
export function stateLostMessage(n: { at: number }): SlackMessage {
  const title = 'callguard state was lost; holds from before are gone';
  const detail =
    'Redis answered without callguard’s state (a restart without persistence or a failover to an empty replica). ' +
    'Every hold placed before is gone, so dispatch queues it kept paused may be running again. callguard re-evaluated at once; ' +
    'rules that still fail will pause again. Check the queues and pause by hand what must stay paused.';
  return {
    text: `${title}. ${detail} At ${time(n.at, 'plain')}.`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `:warning: ${title}`, emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: detail } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${time(n.at, 'mrkdwn')} · callguard` }] },
    ],
  };
}

/** A silence placed or ended: which rules are muted (counting goes on, no hold), by whom, until when, why. */
export function silenceMessage(n: { event: 'silence-added' | 'silence-ended'; silence: Silence; by: string; at: number }): SlackMessage {
  const s = n.silence;
  const what = [
    ...s.rules.map((r) => `rule ${r}`),
    ...(s.providers ?? []).map((p) => `provider ${p}`),
    ...(s.queues ?? []).map((q) => `queue ${q}`),
  ].join(', ');
  const title = n.event === 'silence-added' ? `Silenced: ${what}` : `Silence ended: ${what}`;
  const detail =
    n.event === 'silence-added'
      ? `Until ${time(s.until, 'mrkdwn')}. Errors are still counted; these rules place no hold meanwhile. Reason: ${clip(escapeControl(s.reason), 1500)}`
      : `Rules still over threshold trip again at the next evaluation.`;
  const plain =
    n.event === 'silence-added'
      ? `${title} until ${time(s.until, 'plain')} by ${actor(n.by, 'plain')}: ${s.reason}`
      : `${title} (by ${actor(n.by, 'plain')}); rules still over threshold trip again.`;
  return {
    // Slack parses the fallback text too: a reason or rule name must not become <!channel> or a link.
    text: clip(escapeControl(plain), SLACK_TEXT_MAX),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`:zzz: ${title}`, SLACK_HEADER_MAX), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: detail } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${time(n.at, 'mrkdwn')} · ${actor(n.by, 'mrkdwn')}` }] },
    ],
  };
}

/** Changes listed in a rules announcement; the rest are counted. */
export const RULES_CHANGES_SHOWN = 20;

const SOURCE_WORDS: Record<RulesSource, string> = {
  api: 'an edit (API, CLI or console)',
  rollback: 'a rollback',
  file: 'a rules file',
  seed: 'the rules file seeding an empty store',
};

/** A new rules version in force on every instance: who, which version, from where, what changed. */
export function rulesPublishedMessage(n: PublishedRules): SlackMessage {
  const value = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v));
  const lines = n.changes.slice(0, RULES_CHANGES_SHOWN).map((c) => `${c.path}: ${value(c.before)} → ${value(c.after)}`);
  const more = n.changes.length - lines.length;
  if (more > 0) lines.push(`… and ${more} more`);
  const summary = lines.length ? lines.join('\n') : 'No rule changed (the same rules again).';
  const title = `Rules version ${n.version} is in force`;
  const from = `From ${SOURCE_WORDS[n.source]}: ${n.reason}`;
  return {
    // Rule names and values come from people: escaped wherever Slack parses them.
    text: clip(escapeControl(`${title}, published by ${actor(n.by, 'plain')}. ${from}. ${lines.join('; ')}`), SLACK_TEXT_MAX),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`:scroll: ${title}`, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(escapeControl(from), SLACK_TEXT_MAX) } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `\`\`\`${clip(escapeControl(summary).replace(/`/g, "'"), SLACK_TEXT_MAX - 6)}\`\`\`` },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${time(n.at, 'mrkdwn')} · ${actor(n.by, 'mrkdwn')}` }] },
    ],
  };
}

/** A message as Slack echoes it back with a button press: the blocks we posted. */
export interface EchoedMessage {
  text: string;
  blocks: Array<{ type: string }>;
}

/** The original message after someone pressed "Resume calls": the button goes, the outcome is added. */
export function pressedMessage(original: EchoedMessage, p: { userId: string; at: number; released: boolean }): SlackMessage {
  const who = `<@${p.userId}>`;
  const outcome = p.released
    ? `:white_check_mark: Resumed by ${who} at ${time(p.at, 'mrkdwn')}`
    : `:information_source: ${who} pressed Resume at ${time(p.at, 'mrkdwn')}; the hold had already been released`;
  const plain = p.released ? `resumed by Slack user ${p.userId}` : `the hold had already been released`;
  return {
    text: clip(`${original.text} — ${plain}`, SLACK_TEXT_MAX),
    blocks: [
      // Slack echoes back the blocks we posted, so they are Block Kit already.
      ...(original.blocks.filter((b) => b.type !== 'actions').slice(0, SLACK_BLOCKS_MAX - 2) as KnownBlock[]),
      { type: 'section', text: { type: 'mrkdwn', text: outcome } },
    ],
  };
}

function probeText(probe: Hold, f: Flavour): string {
  const rate = probe.kind === 'rule' && probe.maxPerMinute !== undefined ? `at most ${probe.maxPerMinute} jobs/min` : 'rate-limited';
  const until = probe.until !== undefined ? ` until ${time(probe.until, f)}` : '';
  return `${rate}${until}; full speed after that if the rule stays below threshold, paused again if it trips`;
}

type Fields = (f: Flavour) => ReadonlyArray<readonly [string, string]>;

function build(header: string, title: string, fields: Fields, hold: Hold, button: boolean): SlackMessage {
  // Slack parses the fallback text too: an alert's summary must not become <!channel> or a link.
  const text = escapeControl(
    `${title}. ${fields('plain')
      .map(([k, v]) => `${k}: ${v}`)
      .join('. ')}.`,
  );
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(header, SLACK_HEADER_MAX), emoji: true } },
    {
      type: 'section',
      fields: fields('mrkdwn')
        .slice(0, 10)
        .map(([k, v]) => ({ type: 'mrkdwn' as const, text: clip(`*${k}*\n${v}`, SLACK_FIELD_MAX) })),
    },
  ];
  if (button) blocks.push(resumeButton(hold));
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: clip(`hold ${code(hold.id, 'mrkdwn')} · callguard`, SLACK_TEXT_MAX) }],
  });
  return { text: clip(text, SLACK_TEXT_MAX), blocks };
}

function others(label: string, holds: Hold[], f: Flavour): Array<readonly [string, string]> {
  if (!holds.length) return [];
  const shown = holds.slice(0, 5).map((h) => describeHold(h, f));
  if (holds.length > shown.length) shown.push(`and ${holds.length - shown.length} more`);
  return [[label, shown.join(f === 'mrkdwn' ? '\n' : '; ')]];
}

function resumeButton(hold: Hold): KnownBlock {
  return {
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: RESUME_ACTION_ID,
        text: { type: 'plain_text', text: 'Resume calls' },
        value: hold.id,
        style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: 'Resume calls?' },
          text: {
            type: 'mrkdwn',
            text: clip(`This releases hold ${code(hold.id, 'mrkdwn')}. Queues it alone paused start dispatching again.`, 300),
          },
          confirm: { type: 'plain_text', text: 'Resume' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
    ],
  };
}
