/** The Bull Board login and logout pages: static HTML, no script (CSP stays helmet's default). */

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;background:#151a21;color:#e6e9ee;display:flex;justify-content:center;padding-top:12vh}
form{background:#1f2630;padding:2rem;border-radius:8px;min-width:18rem}label{display:block;margin:.8rem 0 .3rem}
input{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1.2rem;padding:.5rem 1rem}.error{color:#ff8a80}</style>
</head><body>${body}</body></html>`;
}

export function loginPage(opts: { error?: string; name?: string } = {}): string {
  const error = opts.error ? `<p class="error" role="alert">${escape(opts.error)}</p>` : '';
  return page(
    'callguard — sign in',
    `<form method="post" action="/admin/login"><h1>callguard</h1>${error}
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required value="${escape(opts.name ?? '')}">
<label for="secret">Secret</label><input id="secret" name="secret" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>`,
  );
}

export function logoutPage(name: string): string {
  return page(
    'callguard — sign out',
    `<form method="post" action="/admin/logout"><p>Signed in as ${escape(name)}.</p><button type="submit">Sign out</button></form>`,
  );
}
