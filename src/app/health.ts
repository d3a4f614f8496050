/**
 * The health side alone (events worker + evaluator), for scaling out next to `npm start` or for
 * deployments that run the admin API elsewhere: `npm run start:health` (node dist/app/health.js).
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
