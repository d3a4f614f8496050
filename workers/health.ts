/**
 * The health side alone (events worker + evaluator), for scaling out next to `npm start`
 * or for deployments that run the admin API elsewhere: `npx tsx workers/health.ts`.
 */
import { bootCallguard, exitOnStartupError, onShutdown } from '../src/app/boot.js';

try {
  const { cg, logger } = await bootCallguard();
  await cg.startWorker();
  logger.info({ rules: cg.rules.map((r) => r.name), queues: cg.config.queues }, 'callguard health worker started');
  onShutdown(logger, () => cg.stop({ graceMs: cg.config.shutdownGraceMs }));
} catch (err) {
  exitOnStartupError(err);
}
