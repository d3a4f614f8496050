/** Pure wording shared by the Slack messages: holds, people, durations, times. */
import type { Hold } from '../domain/hold.js';
import { releaseAfterRecovery } from '../domain/release-plan.js';
import type { Rule } from '../domain/types.js';

/** Slack mrkdwn or the plain `text` fallback (which also goes to the log without a bot token). */
export type Flavour = 'mrkdwn' | 'plain';

export function describeHold(hold: Hold, f: Flavour): string {
  switch (hold.kind) {
    case 'rule': {
      const name = code(hold.rule, f);
      // Rate trips (and probes) read best in the words decide() gave them.
      if (hold.count === undefined || hold.threshold === undefined || hold.calls !== undefined) {
        const reason = hold.reason.startsWith(`${hold.rule}: `) ? hold.reason.slice(hold.rule.length + 2) : hold.reason;
        return `rule ${name}: ${text(reason, f)}`;
      }
      const window = hold.windowMinutes !== undefined ? ` in ${hold.windowMinutes} min` : '';
      const again = hold.afterProbe ? '; tripped again during the probe' : '';
      return `rule ${name}: ${hold.count} errors${window} (threshold ${hold.threshold})${again}`;
    }
    case 'alert': {
      const name = hold.alertName ?? hold.reason;
      const source = hold.source ?? hold.by.replace(/^alert:/, '');
      const why = hold.reason && hold.reason !== name ? ` — ${text(hold.reason, f)}` : '';
      return `alert "${text(name, f)}" from ${text(source, f)}${why}`;
    }
    case 'manual':
      return `${actor(hold.by, f)}: "${text(hold.reason, f)}"`;
  }
}

/**
 * How the hold will be lifted, in the words an on-call person needs. A rule hold's way out counts
 * the window draining, the clear delay and the probe (the rule as in force now; the hold's own
 * window snapshot when the rule has since gone).
 */
export function resumePlan(hold: Hold, s: { autoResumeMinutes: number; rules?: readonly Rule[] }, f: Flavour): string {
  switch (hold.kind) {
    case 'rule': {
      const rule = s.rules?.find((r) => r.name === hold.rule);
      const windowMinutes = rule?.windowMinutes ?? hold.windowMinutes;
      if (windowMinutes === undefined) return `after ${s.autoResumeMinutes} min continuously below threshold`;
      return releaseAfterRecovery({ windowMinutes, probe: rule?.probe }, s.autoResumeMinutes);
    }
    case 'alert':
      return 'when the alert resolves';
    case 'manual':
      return hold.until !== undefined ? `at ${time(hold.until, f)}, or earlier by a person` : 'by a person';
  }
}

/** `slack:U123` → a Slack mention; `callguard` → automatic; anything else is a principal's name. */
export function actor(by: string, f: Flavour): string {
  if (by.startsWith('slack:')) {
    const id = by.slice('slack:'.length);
    return f === 'mrkdwn' ? `<@${id}>` : `Slack user ${id}`;
  }
  if (by === 'callguard') return 'callguard (automatic)';
  if (by.startsWith('alert:')) return `the ${by.slice('alert:'.length)} alert`;
  return text(by, f);
}

/** `1 h 4 min`, `4 min 12 s`, `12 s`; never negative (clocks of two hosts may disagree slightly). */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = d ? [`${d} d`, h && `${h} h`] : h ? [`${h} h`, m && `${m} min`] : m ? [`${m} min`, s && `${s} s`] : [`${s} s`];
  return parts.filter(Boolean).join(' ');
}

/** Slack renders `<!date^…>` in each reader's time zone; the fallback after `|` is UTC. */
export function time(ms: number, f: Flavour): string {
  const iso = new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
  return f === 'mrkdwn' ? `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso}>` : iso;
}

export function queueList(queues: string[], waiting: Record<string, number>, f: Flavour): string {
  return queues.map((q) => (waiting[q] !== undefined ? `${code(q, f)} (${waiting[q]} waiting)` : code(q, f))).join(', ');
}

export function code(s: string, f: Flavour): string {
  return f === 'mrkdwn' ? `\`${text(s, f).replace(/`/g, "'")}\`` : s;
}

/** Slack mrkdwn treats &, < and > as control characters; people's reasons and alert names may contain them. */
export function text(s: string, f: Flavour): string {
  return f === 'mrkdwn' ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s;
}

/** Block Kit rejects over-long fields, which would turn a pause notice into a failed job. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
