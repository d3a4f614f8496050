import type { Principal } from '../auth/principals.js';
import { esc } from './html.js';
import { rulesEditorSection, silencesSection } from './rules-editor.js';
import type { View } from './view.js';
import { BOARD_PATH } from '../board/login.js';

/** The pause form (admins only); the script asks for confirmation before it posts. */
function pauseForm(queues: string[]): string {
  const boxes = queues
    .map((q) => `<label class="inline"><input type="checkbox" name="queue" value="${esc(q)}"> ${esc(q)}</label>`)
    .join('');
  return `<section aria-labelledby="pause-h"><h2 id="pause-h">Pause</h2>
<form id="pause-form" novalidate>
<fieldset><legend>Scope</legend>
<label class="inline"><input type="radio" name="scope" value="all" checked> every dispatch queue</label>
<label class="inline"><input type="radio" name="scope" value="some"> only:</label> ${boxes}
</fieldset>
<label for="reason">Reason</label><input id="reason" name="reason" required maxlength="1000" autocomplete="off" placeholder="e.g. provider maintenance">
<label for="until">Until (optional, your local time)</label><input id="until" name="until" type="datetime-local">
<p id="pause-error" class="error" role="alert"></p>
<button type="submit">Pause…</button>
</form></section>
<dialog id="confirm" aria-labelledby="confirm-h"><form method="dialog">
<h2 id="confirm-h">Confirm</h2><p id="confirm-text"></p>
<div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button><button value="ok" id="confirm-ok" class="danger">Confirm</button></div>
</form></dialog>`;
}

/** The whole console, server-rendered; console.js keeps the regions live and sends the actions. */
export function consolePage(who: Principal, view: View, queues: string[]): string {
  const canAct = who.role === 'admin';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>callguard console</title>
<link rel="stylesheet" href="/admin/console.css"><script src="/admin/console.js" defer></script>
</head><body data-can-act="${canAct}">
<header><h1>callguard console</h1>
<nav aria-label="Console"><a href="${BOARD_PATH}/">Bull Board</a> <a href="/admin/logout">Sign out</a></nav>
<p class="who">Signed in as <strong>${esc(who.name)}</strong> (${esc(who.role)}${canAct ? '' : ', read-only'}) · <span id="live" class="muted">live</span></p>
</header>
<p id="notice" role="status" aria-live="polite"></p>
<main>
<section aria-labelledby="rules-h"><h2 id="rules-h">Rules</h2><div id="rules" data-region="rules">${view.rules}</div></section>
<section aria-labelledby="queues-h"><h2 id="queues-h">Dispatch queues</h2><div id="queues" data-region="queues">${view.queues}</div></section>
<section aria-labelledby="holds-h"><h2 id="holds-h">Holds</h2><div id="holds" data-region="holds">${view.holds}</div></section>
${canAct ? pauseForm(queues) : ''}
${silencesSection(canAct)}
${rulesEditorSection(canAct)}
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>
<label for="filter">Filter by rule or hold</label><input id="filter" type="search" list="filter-options" autocomplete="off" placeholder="e.g. twilio or manual:">
<div id="timeline" data-region="timeline">${view.timeline}</div></section>
</main></body></html>`;
}
