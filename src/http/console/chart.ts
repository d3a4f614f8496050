import { esc } from './html.js';

const W = 160;
const H = 36;

/**
 * A rule's window as a small inline SVG: one bar per minute (oldest left), the running total as a
 * line, and the threshold dashed. The rule trips when the line reaches the dashes.
 */
/** threshold undefined: a rule that trips on rates only (no threshold line). */
export function windowChart(name: string, perMinute: number[], threshold: number | undefined): string {
  const total = perMinute.reduce((a, b) => a + b, 0);
  const top = Math.max(threshold ?? 0, total, 1);
  const y = (v: number) => (H - 1 - (v / top) * (H - 4)).toFixed(1);
  const step = W / Math.max(perMinute.length, 1);
  const bars = perMinute
    .map((v, i) =>
      v > 0
        ? `<rect class="bar" x="${(i * step + step * 0.15).toFixed(1)}" y="${y(v)}" width="${Math.max(step * 0.7, 1.5).toFixed(1)}" height="${(H - 1 - Number(y(v))).toFixed(1)}"/>`
        : '',
    )
    .join('');
  let run = 0;
  const points = perMinute.flatMap((v, i) => {
    const before = y(run);
    run += v;
    return [`${(i * step).toFixed(1)},${before}`, `${(i * step).toFixed(1)},${y(run)}`, `${((i + 1) * step).toFixed(1)},${y(run)}`];
  });
  const label = `${name}: ${total} errors in the last ${perMinute.length} min${threshold !== undefined ? ` against a threshold of ${threshold}` : ''}; per minute, oldest first: ${perMinute.join(', ')}`;
  return (
    `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(label)}">` +
    `<title>${esc(label)}</title>${bars}` +
    `<polyline class="total" points="${points.join(' ')}"/>` +
    (threshold !== undefined ? `<line class="threshold" x1="0" x2="${W}" y1="${y(threshold)}" y2="${y(threshold)}"/>` : '') +
    '</svg>'
  );
}
