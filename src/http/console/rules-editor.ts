/**
 * The rules version and silences sections: static HTML that console.js fills from
 * /admin/api/rules and /admin/api/silences (text only, never markup). Admins get the editor,
 * the diff, the dry run and the silence form; viewers read.
 */
export function rulesEditorSection(canAct: boolean): string {
  const edit = canAct
    ? `<div class="buttons"><button type="submit" id="rules-review">Review changes…</button> <button type="button" id="rules-reset">Discard edits</button></div>`
    : '';
  return `<section aria-labelledby="ruleset-h" id="ruleset"><h2 id="ruleset-h">Rules version</h2>
<p>Active version <strong id="rules-version">…</strong> <span id="rules-meta" class="muted"></span></p>
<form id="rules-form" novalidate>
<label for="rules-json">${canAct ? 'Rules (JSON, as a rules file holds them): edit, review the changes and the dry run, then apply' : 'Rules (JSON, read-only)'}</label>
<textarea id="rules-json" name="rules" rows="14" spellcheck="false" autocomplete="off"${canAct ? '' : ' readonly'} aria-describedby="rules-error"></textarea>
<p id="rules-error" class="error" role="alert"></p>
${edit}
</form>
${canAct ? reviewPanel() : ''}
</section>`;
}

function reviewPanel(): string {
  return `<div id="rules-review-panel" hidden>
<h3 id="rules-diff-h">Changes</h3>
<table id="rules-diff" aria-labelledby="rules-diff-h"><thead><tr><th scope="col">Setting</th><th scope="col">Now</th><th scope="col">Proposed</th></tr></thead><tbody></tbody></table>
<ul id="rules-warnings" class="warnings"></ul>
<h3>Dry run</h3>
<p id="rules-now" class="muted"></p>
<div id="rules-dry-run"></div>
<div class="buttons"><button type="button" id="rules-apply" class="danger">Apply…</button> <button type="button" id="rules-cancel">Cancel</button></div>
</div>`;
}

export function silencesSection(canAct: boolean): string {
  const form = canAct
    ? `<form id="silence-form" novalidate><h3>Add a silence</h3>
<fieldset><legend>Rules</legend><div id="silence-rules"></div></fieldset>
<label for="silence-minutes">For (minutes)</label><input id="silence-minutes" name="minutes" type="number" min="1" max="43200" value="60" required>
<label for="silence-reason">Why (shown in the audit and on Slack)</label><input id="silence-reason" name="reason" required maxlength="1000" autocomplete="off" placeholder="e.g. known false positive, ticket OPS-12">
<p id="silence-error" class="error" role="alert"></p>
<button type="submit">Silence…</button>
</form>`
    : '';
  return `<section aria-labelledby="silences-h"><h2 id="silences-h">Silences</h2>
<p class="muted">A silenced rule still counts errors but places no hold; it trips again when the silence ends if it is still over threshold.</p>
<div id="silences"><p class="empty">No silences.</p></div>
${form}
</section>`;
}
