// callguard console: keeps the server-rendered regions live and sends the admin actions.
// Plain browser JavaScript, served as is (no build step); helmet's default CSP allows it as a same-origin file.
'use strict';

const POLL_MS = 1000;
const $ = (selector) => document.querySelector(selector);
const regions = [...document.querySelectorAll('[data-region]')];
const shown = Object.fromEntries(regions.map((r) => [r.dataset.region, r.innerHTML]));
let signedOut = false;
let timer;
let inFlight = false;
let again = false;

function notice(text, isError = false) {
  const el = $('#notice');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

/** Shows every <time> in the reader's own time zone. */
function localTimes(root) {
  for (const t of root.querySelectorAll('time[datetime]')) t.textContent = new Date(t.dateTime).toLocaleString();
}

function applyFilter() {
  const q = $('#filter').value.trim().toLowerCase();
  for (const li of document.querySelectorAll('#timeline li')) {
    li.hidden = q !== '' && !li.dataset.hold.toLowerCase().includes(q) && !li.dataset.rule.toLowerCase().includes(q);
  }
}

/** Replaces a region's HTML, keeping keyboard focus on the same control if it is still there. */
function swap(region, html) {
  const focused = region.contains(document.activeElement) ? document.activeElement.dataset.hold : undefined;
  region.innerHTML = html;
  localTimes(region);
  if (focused) region.querySelector(`button[data-hold="${CSS.escape(focused)}"]`)?.focus();
}

/** One poll at a time: a refresh asked for while one is in flight runs right after it. */
async function refresh() {
  clearTimeout(timer);
  if (signedOut) return;
  if (inFlight) return void (again = true);
  inFlight = true;
  try {
    const res = await fetch('/admin/api/view', { headers: { accept: 'application/json' }, cache: 'no-cache' });
    if (res.status === 401) {
      signedOut = true;
      notice('Your session has ended: sign in again at /admin/login.', true);
      return;
    }
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    const view = await res.json();
    for (const region of regions) {
      const html = view[region.dataset.region];
      if (typeof html === 'string' && html !== shown[region.dataset.region]) {
        shown[region.dataset.region] = html;
        swap(region, html);
      }
    }
    applyFilter();
    await Promise.all([refreshRules(), refreshSilences()]);
    $('#live').textContent = `live · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $('#live').textContent = `not updating (${err.message}); retrying`;
  } finally {
    inFlight = false;
    if (!signedOut) timer = setTimeout(refresh, again ? 0 : POLL_MS);
    again = false;
  }
}

/** Asks in a modal dialog; resolves true on Confirm. Escape or Cancel resolve false. */
function confirmAction(text, label) {
  const dialog = $('#confirm');
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = label;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
}

async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error?.message ?? `the server answered ${res.status}`);
  return json;
}

async function onPause(event) {
  event.preventDefault();
  const form = event.target;
  const error = $('#pause-error');
  error.textContent = '';
  const reason = form.reason.value.trim();
  const some = form.scope.value === 'some';
  const queues = [...form.querySelectorAll('input[name=queue]:checked')].map((c) => c.value);
  if (!reason) return void ((error.textContent = 'Give a reason: it goes to the audit and to Slack.'), form.reason.focus());
  if (some && !queues.length) return void (error.textContent = 'Choose at least one queue, or every dispatch queue.');
  const until = form.until.value ? new Date(form.until.value) : undefined;
  if (until && !(until > new Date())) return void ((error.textContent = 'Until must be in the future.'), form.until.focus());
  const scope = some ? queues.join(', ') : 'every dispatch queue';
  const text = `Pause ${scope}${until ? ` until ${until.toLocaleString()}` : ' until someone resumes'}? Reason: ${reason}`;
  if (!(await confirmAction(text, 'Pause'))) return;
  try {
    const answer = await post('/admin/api/pause', {
      reason,
      ...(some ? { queues } : {}),
      ...(until ? { until: until.toISOString() } : {}),
    });
    notice(`Paused: hold ${answer.hold.id} placed.`);
    form.reason.value = '';
    form.until.value = '';
  } catch (err) {
    error.textContent = `Not paused: ${err.message}`;
  }
  refresh();
}

async function onResume(event) {
  const button = event.target.closest('button.resume');
  if (!button) return;
  const id = button.dataset.hold;
  if (!(await confirmAction(`Resume hold ${id}? Queues that no other hold covers will run again.`, 'Resume'))) return;
  try {
    const answer = await post('/admin/api/resume', { holds: [id] });
    notice(`Resumed: ${answer.released.map((h) => h.id).join(', ') || 'nothing'} released.`);
  } catch (err) {
    notice(`Not resumed: ${err.message}`, true);
  }
  refresh();
}

/** A JSON call to the console's API; a refused one throws the server's message. */
async function api(method, path, body, headers = {}) {
  const res = await fetch(path, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    cache: 'no-cache',
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(json.error?.message ?? `the server answered ${res.status}`), { status: res.status });
  return json;
}

/** An element with text content only: outside strings never become markup. */
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const canAct = document.body.dataset.canAct === 'true';
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

// --- Rules version: the active one, the editor, the review (diff and dry run), the apply.
let active;
let edited = false;
let reviewed;

async function refreshRules() {
  const got = await api('GET', '/admin/api/rules');
  if (active && got.version === active.version) return;
  active = got;
  $('#rules-version').textContent = String(got.version);
  const fileMode = got.rules_source === 'file' ? ' · rules come from the rules file (CALLGUARD_RULES_SOURCE=file): edits are refused' : '';
  $('#rules-meta').textContent = `published by ${got.by} (${got.source}) at ${when(got.at)}${fileMode}`;
  if (!edited) $('#rules-json').value = JSON.stringify(got.content, null, 2);
}

function rulesError(text) {
  $('#rules-error').textContent = text;
  $('#rules-json').setAttribute('aria-invalid', text ? 'true' : 'false');
}

const asJson = (v) => (v === undefined ? '—' : JSON.stringify(v));

function renderDiff(diff) {
  const body = $('#rules-diff tbody');
  body.replaceChildren(
    ...diff.changes.map((c) => {
      const row = el('tr', undefined, { 'data-path': c.path });
      row.append(el('th', c.path, { scope: 'row' }), el('td', asJson(c.before)), el('td', asJson(c.after)));
      return row;
    }),
  );
  $('#rules-warnings').replaceChildren(...diff.warnings.map((w) => el('li', `Warning: ${w}`)));
}

const SVG = 'http://www.w3.org/2000/svg';
const BAR_W = 480;

/** Held spans from placed/released events, clipped to the replayed period. */
function spans(events, from, to) {
  const out = [];
  let start;
  for (const e of [...events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))) {
    if (e.event === 'placed' && start === undefined) start = { at: Date.parse(e.at), effect: e.effect };
    else if (e.event === 'released' && start !== undefined) {
      out.push({ ...start, end: Date.parse(e.at) });
      start = undefined;
    }
  }
  if (start !== undefined) out.push({ ...start, end: to });
  return out.map((s) => ({ ...s, at: Math.max(s.at, from), end: Math.min(s.end, to) }));
}

/** One timeline bar: held spans over the replayed period, labelled in words for screen readers. */
function bar(label, events, from, to) {
  const held = spans(events, from, to);
  const words = held.length
    ? held.map((s) => `${s.effect} ${when(new Date(s.at).toISOString())} – ${when(new Date(s.end).toISOString())}`).join('; ')
    : 'never held';
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${BAR_W} 12`);
  svg.setAttribute('width', String(BAR_W));
  svg.setAttribute('height', '12');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${words}`);
  svg.classList.add('span-bar');
  const x = (t) => ((t - from) / Math.max(to - from, 1)) * BAR_W;
  for (const s of held) {
    const r = document.createElementNS(SVG, 'rect');
    r.setAttribute('x', x(s.at).toFixed(1));
    r.setAttribute('width', Math.max(x(s.end) - x(s.at), 2).toFixed(1));
    r.setAttribute('y', '1');
    r.setAttribute('height', '10');
    r.setAttribute('class', `held held-${s.effect}`);
    svg.append(r);
  }
  const row = el('div', undefined, { class: 'span-row' });
  row.append(el('span', label, { class: 'span-label' }), svg);
  return row;
}

function renderDryRun(run) {
  const now = run.now;
  $('#rules-now').textContent =
    `Now: ${now.tripped.length ? `would trip ${now.tripped.join(', ')}` : 'no rule would trip'}` +
    `${now.place.length ? `; would place ${now.place.join(', ')}` : ''}${now.release.length ? `; would release ${now.release.join(', ')}` : ''}.`;
  const from = Date.parse(run.replay.from);
  const to = Date.parse(run.replay.to);
  const head = el(
    'p',
    `Replayed over the kept per-minute counts, ${when(run.replay.from)} to ${when(run.replay.to)}: held spans of the rules in force beside the proposal's.`,
    { class: 'muted' },
  );
  const rules = Object.entries(run.replay.rules).map(([name, r]) => {
    const block = el('div', undefined, { class: 'dry-rule', 'data-rule': name });
    block.append(el('h4', name));
    if (!r.replayable) block.append(el('p', `Not replayed: ${r.reason ?? 'its history is not kept'}`, { class: 'muted' }));
    else block.append(bar('in force', r.actual, from, to), bar('proposed', r.proposed, from, to));
    return block;
  });
  $('#rules-dry-run').replaceChildren(head, ...rules);
}

function closeReview() {
  reviewed = undefined;
  const panel = $('#rules-review-panel');
  if (panel) panel.hidden = true;
}

async function onReview(event) {
  event.preventDefault();
  rulesError('');
  closeReview();
  let proposal;
  try {
    proposal = JSON.parse($('#rules-json').value);
  } catch (err) {
    return rulesError(`Not valid JSON: ${err.message}`);
  }
  try {
    const diff = await api('POST', '/admin/api/rules/diff', proposal);
    if (!diff.changes.length) return rulesError(`Nothing to apply: these are the rules of version ${diff.version}.`);
    renderDiff(diff);
    $('#rules-dry-run').replaceChildren(el('p', 'Replaying…', { class: 'muted' }));
    $('#rules-now').textContent = '';
    reviewed = { proposal, against: diff.version, changes: diff.changes.length };
    $('#rules-review-panel').hidden = false;
    renderDryRun(await api('POST', '/admin/api/rules/dry-run', proposal));
  } catch (err) {
    if (reviewed) $('#rules-dry-run').replaceChildren(el('p', `No dry run: ${err.message}`, { class: 'error' }));
    else rulesError(err.message);
  }
}

async function onApply() {
  if (!reviewed) return;
  const { proposal, against, changes } = reviewed;
  const text = `Publish ${changes} change${changes === 1 ? '' : 's'} as rules version ${against + 1}? Every instance runs it within a second.`;
  if (!(await confirmAction(text, 'Apply'))) return;
  try {
    const v = await api('PUT', '/admin/api/rules', proposal, { 'if-match': `"${against}"` });
    edited = false;
    closeReview();
    notice(`Rules version ${v.version} is in force.`);
    active = undefined;
    await refreshRules();
  } catch (err) {
    rulesError(`Not applied: ${err.message}`);
  }
}

function onDiscard() {
  edited = false;
  rulesError('');
  closeReview();
  active = undefined;
  void refreshRules();
}

// --- Silences: listed for everyone, placed and ended early by admins.
let silencesShown = '';

async function refreshSilences() {
  const { silences } = await api('GET', '/admin/api/silences');
  const key = JSON.stringify(silences);
  if (key === silencesShown) return;
  silencesShown = key;
  const region = $('#silences');
  if (!silences.length) return void region.replaceChildren(el('p', 'No silences.', { class: 'empty' }));
  const table = el('table');
  const head = el('tr');
  for (const c of ['Silences', 'Until', 'Reason', 'By', ...(canAct ? ['Action'] : [])]) head.append(el('th', c, { scope: 'col' }));
  table.append(el('thead'), el('tbody'));
  table.tHead.append(head);
  for (const s of silences) {
    const what = [
      ...s.rules.map((r) => `rule ${r}`),
      ...(s.providers ?? []).map((p) => `provider ${p}`),
      ...(s.queues ?? []).map((q) => `queue ${q}`),
    ].join(', ');
    const row = el('tr', undefined, { 'data-silence': s.id });
    row.append(el('th', what, { scope: 'row' }), el('td', when(s.until)), el('td', s.reason), el('td', s.by));
    if (canAct) {
      const cell = el('td');
      cell.append(
        el('button', 'End early', {
          type: 'button',
          class: 'end-silence',
          'data-silence': s.id,
          'data-what': what,
          'aria-label': `End the silence of ${what} early`,
        }),
      );
      row.append(cell);
    }
    table.tBodies[0].append(row);
  }
  region.replaceChildren(table);
}

/** The rule checkboxes of the silence form follow the rules table (checked ones stay checked). */
function silenceChoices() {
  const box = $('#silence-rules');
  if (!box) return;
  const names = [...document.querySelectorAll('#rules tr[data-rule]')].map((r) => r.dataset.rule);
  const have = [...box.querySelectorAll('input')].map((i) => i.value);
  if (names.join('\n') === have.join('\n')) return;
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  box.replaceChildren(
    ...names.map((name) => {
      const label = el('label', undefined, { class: 'inline' });
      const input = el('input', undefined, { type: 'checkbox', name: 'silence-rule', value: name });
      input.checked = checked.has(name);
      label.append(input, ` ${name}`);
      return label;
    }),
  );
}

async function onSilence(event) {
  event.preventDefault();
  const form = event.target;
  const error = $('#silence-error');
  error.textContent = '';
  const rules = [...form.querySelectorAll('input[name=silence-rule]:checked')].map((c) => c.value);
  const minutes = Number(form.minutes.value);
  const reason = form.reason.value.trim();
  if (!rules.length) return void (error.textContent = 'Choose at least one rule.');
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 43200)
    return void ((error.textContent = 'For: whole minutes, 1 to 43200 (30 days).'), form.minutes.focus());
  if (!reason) return void ((error.textContent = 'Give a reason: it goes to the audit and to Slack.'), form.reason.focus());
  const until = new Date(Date.now() + minutes * 60_000);
  if (
    !(await confirmAction(
      `Silence ${rules.join(', ')} until ${until.toLocaleString()}? Errors are still counted; these rules place no hold meanwhile. Reason: ${reason}`,
      'Silence',
    ))
  )
    return;
  try {
    const s = await api('POST', '/admin/api/silences', { rules, until: until.toISOString(), reason });
    notice(`Silenced: ${s.rules.join(', ')} until ${when(s.until)}.`);
    form.reason.value = '';
    for (const c of form.querySelectorAll('input[name=silence-rule]')) c.checked = false;
  } catch (err) {
    error.textContent = `Not silenced: ${err.message}`;
  }
  refresh();
}

async function onEndSilence(event) {
  const button = event.target.closest('button.end-silence');
  if (!button) return;
  const { silence, what } = button.dataset;
  if (!(await confirmAction(`End the silence of ${what} now? Rules still over threshold trip at the next evaluation.`, 'End silence')))
    return;
  try {
    await api('DELETE', `/admin/api/silences/${encodeURIComponent(silence)}`);
    notice(`Silence of ${what} ended.`);
  } catch (err) {
    notice(`Not ended: ${err.message}`, true);
  }
  refresh();
}

localTimes(document);
$('#filter').addEventListener('input', applyFilter);
$('#pause-form')?.addEventListener('submit', onPause);
$('#holds').addEventListener('click', onResume);
$('#rules-form').addEventListener('submit', onReview);
$('#rules-json').addEventListener('input', () => ((edited = true), closeReview()));
$('#rules-reset')?.addEventListener('click', onDiscard);
$('#rules-apply')?.addEventListener('click', onApply);
$('#rules-cancel')?.addEventListener('click', closeReview);
$('#silence-form')?.addEventListener('submit', onSilence);
$('#silences').addEventListener('click', onEndSilence);
new MutationObserver(silenceChoices).observe($('#rules'), { childList: true, subtree: true });
silenceChoices();
void refreshRules().catch((err) => rulesError(`Could not read the rules: ${err.message}`));
void refreshSilences().catch(() => {});
timer = setTimeout(refresh, POLL_MS);
