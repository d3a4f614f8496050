import { effectOf } from '../../domain/hold.js';
import { afterClear, releaseAfterRecovery } from '../../domain/release-plan.js';
import type { Hold } from '../../domain/types.js';
import type { HeldRoute } from '../../store/guard.js';
import { esc, scopeText, time } from './html.js';
import type { RuleRow } from './snapshot.js';

/** When a hold is expected to go away. */
function release(h: Hold, rules: RuleRow[], autoResumeMinutes: number): string {
  if (h.kind === 'manual') return h.until !== undefined ? `at ${time(h.until)}` : 'when someone resumes it';
  if (h.kind === 'alert') return 'when the alert resolves';
  if (effectOf(h) === 'probe') return `probe ends ${time(h.until)}`;
  const row = rules.find((r) => r.rule.name === h.rule);
  const state = row?.state;
  if (state?.state === 'clearing')
    return `about ${time(state.resumeAt)} (clear for ${state.minutes} of ${state.of} min)${afterClear(row?.rule)}`;
  if (!row) return `after ${autoResumeMinutes} min below threshold`;
  return releaseAfterRecovery(row.rule, autoResumeMinutes);
}

/** Every hold, with a Resume button per hold for admins. */
export function holdsSection(holds: Hold[], rules: RuleRow[], autoResumeMinutes: number, canAct: boolean): string {
  if (!holds.length) return '<p class="empty">No holds: every dispatch queue runs.</p>';
  const rows = holds
    .map((h) => {
      const action = canAct
        ? `<td data-label="Action"><button type="button" class="resume" data-hold="${esc(h.id)}" aria-label="Resume ${esc(h.id)}">Resume</button></td>`
        : '';
      return `<tr data-hold="${esc(h.id)}">
<th scope="row"><code>${esc(h.id)}</code></th>
<td data-label="Kind">${esc(h.kind)}</td>
<td data-label="Effect"><span class="state state-${effectOf(h) === 'pause' ? 'tripped' : 'counting'}">${esc(effectOf(h))}</span>${h.kind === 'rule' && h.maxPerMinute !== undefined ? ` <span class="muted">${h.maxPerMinute}/min</span>` : ''}</td>
<td data-label="Scope">${esc(scopeText(h.scope))}${h.providers?.length ? `<br><span class="muted">only ${esc(h.providers.join(', '))}</span>` : ''}</td>
<td data-label="Reason">${esc(h.reason)}</td>
<td data-label="By">${esc(h.by)}</td>
<td data-label="Since">${time(h.since)}</td>
<td data-label="Release">${release(h, rules, autoResumeMinutes)}</td>${action}
</tr>`;
    })
    .join('');
  const head = ['Hold', 'Kind', 'Effect', 'Scope', 'Reason', 'By', 'Since', 'Release', ...(canAct ? ['Action'] : [])]
    .map((c) => `<th scope="col">${c}</th>`)
    .join('');
  return `<table><caption class="sr-only">Holds</caption><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** A line per held provider: where its jobs go meanwhile (failover), or that they wait. */
export function failoverLines(routes: HeldRoute[]): string {
  if (!routes.length) return '';
  const items = routes
    .map(
      (r) =>
        `<li><code>${esc(r.provider)}</code> held on ${esc(r.queue)}: ${r.to.length ? `its calls go to ${esc(r.to.join(' or '))}` : 'its jobs wait (no other candidate listed)'} <span class="muted">${r.failedOver} failed over</span></li>`,
    )
    .join('');
  return `<ul class="failover" aria-label="Failover">${items}</ul>`;
}
