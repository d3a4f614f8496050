import { readFileSync } from 'node:fs';
import { loadConfig } from './config.js';
import { isCallguardError } from '../domain/errors.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { RedisUnreachableError } from '../store/redis.js';
import { loadRulesFile } from '../store/rules-file.js';
import { createCallguard, type Callguard } from './callguard.js';

/** Config, rules (with their lint warnings logged) and a connected Callguard. */
export async function bootCallguard(opts: { warnRules?: boolean } = {}): Promise<{ cg: Callguard; logger: Logger }> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const { rules, warnings } = loadRulesFile(config.rulesPath, config.queues);
  if (opts.warnRules !== false) for (const w of warnings) logger.warn(w);
  // The file's own JSON (already validated above) is what a version carries.
  const content: unknown = JSON.parse(readFileSync(config.rulesPath, 'utf8'));
  const cg = await createCallguard(config, rules, { logger, rulesSeed: { content, file: config.rulesPath } });
  return { cg, logger };
}

/** Runs `stop` once on SIGTERM/SIGINT, then exits 0 (1 if stopping failed). */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

/** Start-up failures are one clear line, not a stack trace. */
export function exitOnStartupError(err: unknown): never {
  if (isCallguardError(err) || err instanceof RedisUnreachableError) {
    console.error(`callguard: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
}
