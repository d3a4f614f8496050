/** The API's answers as text for a terminal; --json prints them as they came. */
import type { AuditEntryView, PauseView, ResumeView, RulesDiffView, RulesDryRunView, ServiceStatusView } from '../http/api/views.js';

// C0 and C1 control characters (escape sequences, carriage returns, newlines), DEL, and the Unicode
// bidirectional overrides: text from outside (an alert's name, a reason) must not move the cursor,
// recolour the terminal or fake a line of output.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Every string of an API answer with its control characters shown as escapes (`\x1b`), never sent to the terminal. */
export function safeForTerminal<T>(value: T): T {
  if (typeof value === 'string')
    return value.replace(CONTROL, (c) => {
      const code = c.charCodeAt(0);
      return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
    }) as T;
  if (Array.isArray(value)) return value.map(safeForTerminal) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [safeForTerminal(k), safeForTerminal(v)])) as T;
  return value;
}

/** The job counts an operator acts on; --json has them all. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

const scopeText = (scope: string[] | 'all') => (scope === 'all' ? 'all queues' : scope.join(', '));

/** Rows of cells as left-aligned columns. */
function table(rows: string[][], indent = '  '): string {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => `${indent}${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd() + '\n').join('');
}

/** PAUSED only when a dispatch queue is paused; a hold over some providers' jobs leaves the queues running. */
function headline(s: ServiceStatusView): string {
  if (Object.values(s.queues).some((q) => q.paused || q.held)) return 'PAUSED';
  const held = [...new Set(s.holds.filter((h) => h.providers && h.effect === 'pause').flatMap((h) => h.providers!))];
  if (held.length) return `provider held (${held.join(', ')}; queues running)`;
  return s.is_paused ? 'PAUSED' : 'running';
}

/** A rule trips when its count reaches the threshold: reaching it is not being over it. */
const thresholdNote = (count: number, threshold: number) =>
  count > threshold ? ' (over threshold)' : count === threshold ? ' (threshold reached)' : '';

export function formatStatus(status: ServiceStatusView, base: URL): string {
  const s = safeForTerminal(status);
  let out = `callguard ${base.href}  ${headline(s)}  auto-pause ${s.auto_pause}  at ${s.now ?? '?'}\n\nqueues\n`;
  out += table(
    Object.entries(s.queues).map(([name, q]) => [
      name,
      // The evaluator repairs a queue whose BullMQ state disagrees with its holds on its next tick.
      q.paused
        ? q.held
          ? 'paused'
          : 'paused (no hold: resumes on the next tick)'
        : q.held
          ? 'running (held: pauses on the next tick)'
          : 'running',
      JOB_STATES.map((k) => `${k} ${q.counts[k] ?? 0}`).join(', '),
    ]),
  );
  out += `\nholds${s.holds.length ? ` (${s.holds.length})` : ': none'}\n`;
  for (const h of s.holds) {
    const effect = h.effect === 'pause' ? '' : h.effect === 'probe' ? `probe ${h.max_per_minute ?? '?'}/min  ` : `${h.effect}  `;
    out += `  ${h.id}  ${h.kind}  ${effect}by ${h.by}  since ${h.since ?? '?'}${h.until ? `  until ${h.until}` : ''}  ${scopeText(h.scope)}${h.providers ? ` (providers ${h.providers.join(', ')} only)` : ''}\n`;
    if (h.reason) out += `      ${h.reason}\n`;
  }
  for (const r of s.failover ?? []) {
    const where = r.goes_to.length ? `its calls go to ${r.goes_to.join(' or ')}` : 'its jobs wait (no other candidate listed)';
    out += `  failover: ${r.provider} held on ${r.queue}: ${where} (${r.failed_over} failed over)\n`;
  }
  const rules = Object.entries(s.rules);
  out += `\nrules${rules.length ? '' : ': none'}\n`;
  out += table(
    rules.map(([name, r]) => [
      name,
      [
        ...(r.threshold !== null ? [`${r.error_count}/${r.threshold}${thresholdNote(r.error_count, r.threshold)}`] : []),
        ...(r.calls !== undefined
          ? [`${r.failed_calls} failed, ${r.slow_calls} slow of ${r.calls} calls (${r.providers?.join(', ')})`]
          : []),
      ].join('; ') + ` in ${r.window_minutes} min`,
      scopeText(r.queues),
      r.clear_since ? `below threshold since ${r.clear_since}` : '',
    ]),
  );
  return out;
}

export function formatPause(view: PauseView): string {
  const r = safeForTerminal(view);
  const until = r.hold.until ? ` until ${r.hold.until}` : ' until resumed';
  const now = r.newly_paused.length ? `paused now: ${r.newly_paused.join(', ')}` : 'no queue changed (already paused)';
  const only = r.hold.providers ? ` (providers ${r.hold.providers.join(', ')} only)` : '';
  return `hold ${r.hold.id} added by ${r.paused_by} over ${scopeText(r.hold.scope)}${only}${until}\n${now}\n`;
}

export function formatResume(view: ResumeView): string {
  const r = safeForTerminal(view);
  if (!r.released.length) return 'nothing to release: no hold covers those queues\n';
  const now = r.newly_resumed.length ? `resumed now: ${r.newly_resumed.join(', ')}` : 'no queue resumed (other holds still cover them)';
  return `released by ${r.resumed_by}: ${r.released.map((h) => h.id).join(', ')}\n${now}\n`;
}

export function formatAudit(audit: AuditEntryView[]): string {
  const entries = safeForTerminal(audit);
  if (!entries.length) return 'no audit entries\n';
  return table(
    entries.map((e) => [
      e.at ?? '?',
      e.event,
      e.hold ?? '-',
      `by ${e.by}`,
      [e.paused.length ? `paused ${e.paused.join(',')}` : '', e.resumed.length ? `resumed ${e.resumed.join(',')}` : '', e.reason]
        .filter(Boolean)
        .join('  '),
    ]),
    '',
  );
}

export function formatRulesDiff(diff: RulesDiffView): string {
  const d = safeForTerminal(diff);
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
  const lines = d.changes.map((c) => `  ${c.path}: ${show(c.before)} -> ${show(c.after)}`);
  return (
    [
      `against version ${d.version}: ${d.changes.length ? `${d.changes.length} change(s)` : 'no changes'}`,
      ...lines,
      ...d.warnings.map((w) => `warning: ${w}`),
    ].join('\n') + '\n'
  );
}

export function formatDryRun(dryRun: RulesDryRunView): string {
  const d = safeForTerminal(dryRun);
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  const events = (xs: Array<{ event: string; at: string | null }>) =>
    xs.length ? xs.map((e) => `${e.event} ${e.at}`).join('; ') : 'nothing';
  const lines = [
    `now: would trip ${list(d.now.tripped)}; place ${list(d.now.place)}; release ${list(d.now.release)}`,
    `replay ${d.replay.from} .. ${d.replay.to}:`,
  ];
  for (const [name, r] of Object.entries(d.replay.rules)) {
    if (!r.replayable) lines.push(`  ${name}: not replayable (${r.reason ?? ''}); actually: ${events(r.actual)}`);
    else lines.push(`  ${name}: proposed: ${events(r.proposed)}`, `  ${' '.repeat(name.length)}  actually: ${events(r.actual)}`);
  }
  return lines.join('\n') + '\n';
}
