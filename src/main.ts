import { resolvePrincipals } from './auth/principals.js';
import { loadConfig } from './config.js';
import { isCallguardError } from './errors.js';
import { startHttpServer } from './http/server.js';
import { alertHandler } from './ingest/alert-handler.js';
import { JOB } from './ingest/jobs.js';
import { createLogger } from './logger.js';
import { RedisUnreachableError } from './redis.js';
import { loadRulesFile } from './rules.js';
import { createCallguard } from './service.js';

/** `npm start`: health worker, evaluator and the HTTP admin API + Bull Board in one process. */
async function main(): Promise<void> {
  const config = loadConfig();
  // Bad CALLGUARD_USERS entries refuse start before anything connects.
  const { entries, generated } = resolvePrincipals(config.users);
  const logger = createLogger(config.logLevel);
  const { rules, warnings } = loadRulesFile(config.rulesPath, config.queues);
  for (const w of warnings) logger.warn(w);
  const cg = await createCallguard(config, rules, { logger });
  cg.handlers[JOB.alert] = alertHandler(cg);
  await cg.startWorker();
  const http = await startHttpServer(cg, { principals: entries });
  logger.info(
    { rules: rules.map((r) => r.name), queues: config.queues, minuteMs: config.minuteMs, autoPause: config.autoPause, url: http.url, principals: entries.map((e) => `${e.name} (${e.role})`) },
    'callguard started',
  );
  if (generated) {
    // Printed once, outside the structured log: no log record ever carries a secret.
    process.stdout.write(
      `\n  callguard: CALLGUARD_USERS is empty, so an admin was generated for this run only.\n` +
        `  name: ${generated.name}   secret: ${generated.secret}\n` +
        `  API: curl -H 'Authorization: Bearer <secret>' ${http.url}/health/service   Board: ${http.url}/admin/queues\n` +
        `  Set CALLGUARD_USERS (name:role:secret,...) to keep principals across restarts.\n\n`,
    );
  }

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await http.close();
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
