import type { Logger } from 'pino';

const INTERVAL_MS = 30_000;

/**
 * A logger for errors that repeat while something is down (a Redis outage makes every worker and
 * queue report each reconnect): one line per kind of error per 30 s. The next line of a kind
 * carries `suppressed`, how many of that kind were left out since the previous line.
 */
export function throttledErrorLog(
  logger: Logger,
  message: string,
  opts: { level?: 'warn' | 'error'; intervalMs?: number } = {},
): (err: Error) => void {
  const { level = 'error', intervalMs = INTERVAL_MS } = opts;
  const kinds = new Map<string, { last: number; suppressed: number }>();
  return (err) => {
    const kind = (err as NodeJS.ErrnoException).code ?? err.name;
    const now = Date.now();
    const seen = kinds.get(kind);
    if (seen && now - seen.last < intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    kinds.set(kind, { last: now, suppressed: 0 });
    logger[level]({ err, kind, ...(suppressed ? { suppressed } : {}) }, message);
  };
}
