import { loadConfig } from './config.js';
import { isCallguardError } from './errors.js';
import { createLogger } from './logger.js';
import { RedisUnreachableError } from './redis.js';
import { loadRulesFile } from './rules.js';
import { createCallguard } from './service.js';

/** `npm start`: health worker, evaluator and (once built) the HTTP admin in one process. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const { rules, warnings } = loadRulesFile(config.rulesPath, config.queues);
  for (const w of warnings) logger.warn(w);
  const cg = await createCallguard(config, rules, { logger });
  await cg.startWorker();
  logger.info({ rules: rules.map((r) => r.name), queues: config.queues, minuteMs: config.minuteMs, autoPause: config.autoPause }, 'callguard started');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await cg.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  if (isCallguardError(err) || err instanceof RedisUnreachableError) {
    console.error(`callguard: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
