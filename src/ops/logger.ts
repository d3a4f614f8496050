import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * callguard's own logger. Every record carries `callguard: true` so the log sink never counts
 * callguard's own warnings (they would count toward a rule and feed on themselves); setting `base` drops
 * pino's default pid and hostname, so both are restated. Errors go under `err`, where pino's
 * serializer keeps their type and stack.
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  const options = { name: 'callguard', level, base: { callguard: true, pid: process.pid, hostname: hostname() } };
  return destination ? pino(options, destination) : pino(options);
}
