/**
 * The library API for Node apps that place calls: the package @callguard-dev/client, built from
 * this folder (packages/client; the service is @callguard-dev/server):
 *   import { reportError, createCallguardSink, createGuardedWorker } from '@callguard-dev/client';
 * Loads no server package and reads only the variables in ./config.ts.
 */
import { loadClientConfig } from './config.js';
import { createLogSink, type LogSink, type LogSinkOptions } from './log-sink.js';
import type { Reporter } from './reporter.js';
import { reportError } from './shared.js';
import { loadRulesFile } from '../store/rules-file.js';
import type { Rule } from '../domain/types.js';

export { createGuardedWorker, type GuardOptions, type GuardedJob, type GuardedProcessor } from './guarded-worker.js';
export { createReporter, reportError, closeReporter, reporterStats, type ReporterConnection } from './shared.js';
export { Reporter, type ReporterOptions, type ReporterStats } from './reporter.js';
export { createLogSink, matchRecord, type LogSink } from './log-sink.js';
export { JOB, errorReportSchema, type ErrorReport } from '../jobs/contract.js';
export { loadClientConfig, type ClientConfig } from './config.js';
export { connectRedis, type HostPort, type RedisTarget } from '../store/redis.js';
export { parseRules } from '../domain/rules.js';
export { loadRulesFile } from '../store/rules-file.js';
export type { Hold, Rule, Scope } from '../domain/types.js';

/**
 * A pino destination that counts rule phrases in the app's own logs. Fastest, in front of the
 * app's destination:   pino({}, createCallguardSink({ destination: pino.destination(1) }))
 * or beside others:    pino({}, pino.multistream([{ stream: process.stdout }, createCallguardSink()]))
 * (passed as it is, so multistream keeps below-level lines from it).
 */
export function createCallguardSink(
  opts: { rules?: Rule[]; rulesPath?: string; reporter?: Reporter; destination?: LogSinkOptions['destination'] } = {},
): LogSink {
  const rules = opts.rules ?? rulesFromEnv(opts.rulesPath);
  const reporter = opts.reporter ?? { report: reportError };
  return createLogSink({ rules, reporter, ...(opts.destination ? { destination: opts.destination } : {}) });
}

function rulesFromEnv(rulesPath: string | undefined): Rule[] {
  const env = loadClientConfig();
  return loadRulesFile(rulesPath ?? env.rulesPath, env.queues).rules;
}
