import { windowChart } from './chart.js';
import { esc, scopeText, time } from './html.js';
import { describeState } from './rule-state.js';
import type { QueueRow, RuleRow } from './snapshot.js';

/** The rules table: each rule's window against its threshold, its state and its queues. */
export function rulesSection(rows: RuleRow[]): string {
  if (!rows.length) return '<p>No rules are configured.</p>';
  const body = rows
    .map(({ rule, perMinute, count, summary, state }) => {
      const detail =
        state.state === 'clearing'
          ? `<br><span class="muted">resumes about ${time(state.resumeAt)}</span>`
          : state.state === 'probing'
            ? `<br><span class="muted">until ${time(state.until)}</span>`
            : '';
      return `<tr data-rule="${esc(rule.name)}">
<th scope="row">${esc(rule.name)}${rule.mode === 'shadow' ? ' <span class="muted">(shadow)</span>' : ''}</th>
<td data-label="Errors in window">${windowChart(rule.name, perMinute, rule.thresholdCount)}<span class="count">${rule.thresholdCount !== undefined ? `${count} / ${rule.thresholdCount} in ${rule.windowMinutes} min` : esc(summary)}</span>${rule.providers ? `<br><span class="muted">providers: ${esc(rule.providers.join(', '))}</span>` : ''}</td>
<td data-label="State"><span class="state state-${state.state}">${esc(describeState(state))}</span>${detail}</td>
<td data-label="Queues">${esc(scopeText(rule.queues))}</td>
</tr>`;
    })
    .join('');
  return `<table><caption class="sr-only">Rules</caption><thead><tr><th scope="col">Rule</th><th scope="col">Errors in window (per minute; line: running total; dashes: threshold)</th><th scope="col">State</th><th scope="col">Queues</th></tr></thead><tbody>${body}</tbody></table>`;
}

/**
 * Dispatch queues with their paused state, the providers held inside each (a provider hold leaves
 * the queue running, so "running" alone would hide it) and the number of holds covering each.
 */
export function queuesSection(rows: QueueRow[]): string {
  const state = (q: QueueRow) => {
    if (q.paused) return `<span class="state state-tripped">paused</span>`;
    if (!q.providers.length) return `<span class="state state-clear">running</span>`;
    const held = q.providers.map((p) => `${esc(p.name)} ${p.effect}`).join(', ');
    return `<span class="state state-counting">running; ${held}</span>`;
  };
  const items = rows
    .map(
      (q) =>
        `<li data-queue="${esc(q.name)}"><strong>${esc(q.name)}</strong> ${state(q)} <span class="muted">${q.holds} hold${q.holds === 1 ? '' : 's'}</span></li>`,
    )
    .join('');
  return `<ul class="queues">${items}</ul>`;
}
