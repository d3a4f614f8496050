import type { AuditEntry } from '../../store/holds.js';
import { esc, time } from './html.js';

const EVENTS: Record<string, string> = {
  'hold-added': 'hold placed',
  'hold-released': 'hold released',
  'would-pause': 'would pause (shadow)',
  'would-resume': 'would resume (shadow)',
  'probe-started': 'probe started',
  'probe-ended': 'probe ended',
  'drift-repaired': 'drift repaired',
  'rules-published': 'rules version published',
  'silence-added': 'silence placed',
  'silence-ended': 'silence ended',
};

/** The rule an audit entry concerns: the hold's rule, else the name in a `rule:<name>` id. */
function ruleOf(e: AuditEntry): string {
  const rule = (e.data as { rule?: unknown } | null | undefined)?.rule;
  if (typeof rule === 'string') return rule;
  return e.hold.startsWith('rule:') ? e.hold.slice('rule:'.length) : '';
}

/** The audit stream, newest first. Filter suggestions (rules, holds seen) ride along in a datalist. */
export function timelineSection(entries: AuditEntry[], ruleNames: string[]): string {
  const items = entries
    .map((e) => {
      const queues = [e.paused.length ? `paused ${e.paused.join(', ')}` : '', e.resumed.length ? `resumed ${e.resumed.join(', ')}` : '']
        .filter(Boolean)
        .join('; ');
      return `<li data-hold="${esc(e.hold)}" data-rule="${esc(ruleOf(e))}">
<span class="when">${time(e.at)}</span> <span class="event event-${esc(e.event)}">${esc(EVENTS[e.event] ?? e.event)}</span>${e.hold ? ` <code>${esc(e.hold)}</code>` : ''}
by <strong>${esc(e.by)}</strong>${e.reason ? `: ${esc(e.reason)}` : ''}${queues ? ` <span class="muted">(${esc(queues)})</span>` : ''}</li>`;
    })
    .join('');
  const options = [...new Set([...ruleNames, ...entries.map((e) => e.hold).filter(Boolean)])]
    .map((v) => `<option value="${esc(v)}">`)
    .join('');
  return `<datalist id="filter-options">${options}</datalist>${items ? `<ol class="timeline">${items}</ol>` : '<p class="empty">Nothing has happened yet.</p>'}`;
}
