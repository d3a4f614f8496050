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

localTimes(document);
$('#filter').addEventListener('input', applyFilter);
$('#pause-form')?.addEventListener('submit', onPause);
$('#holds').addEventListener('click', onResume);
timer = setTimeout(refresh, POLL_MS);
