import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * callguard's own logger. Every record carries `callguard: true` so the log sink never counts
 * callguard's own warnings (a finding of the original system's review).
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  const options = { name: 'callguard', level, base: { callguard: true, pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}
