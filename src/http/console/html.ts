/** Escapes text for HTML content and double-quoted attributes. Every dynamic value on the console goes through it. */
export const esc = (v: unknown): string =>
  String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A timestamp as machine-readable `<time>`; the console's script shows it in the reader's time zone. */
export const time = (ms: number | undefined, empty = '—'): string => {
  if (ms === undefined || !Number.isFinite(ms)) return esc(empty);
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.replace('T', ' ').slice(0, 19)} UTC</time>`;
};

export const scopeText = (scope: string[] | 'all'): string => (scope === 'all' ? 'all queues' : scope.join(', '));
