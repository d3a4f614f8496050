import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * callguard's own logger. Every record carries `callguard: true` so the log sink never counts
 * callguard's own warnings (a finding of the original system's review).
 */
export function createLogger(level = 'info'): Logger {
  return pino({ name: 'callguard', level, base: { callguard: true, pid: process.pid } });
}
