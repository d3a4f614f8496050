/**
 * The health side alone (events worker + evaluator), for scaling out next to the API process or
 * for deployments that run the admin API elsewhere: `node dist/app/health.js` in the image,
 * `npx tsx workers/health.ts` from the sources.
 */
import { bootCallguard, exitOnStartupError, onShutdown } from './boot.js';

try {
  const { cg, logger } = await bootCallguard();
  await cg.startWorker();
  logger.info({ rules: cg.rules.map((r) => r.name), queues: cg.config.queues }, 'callguard health worker started');
  onShutdown(logger, () => cg.stop({ graceMs: cg.config.shutdownGraceMs }));
} catch (err) {
  exitOnStartupError(err);
}
