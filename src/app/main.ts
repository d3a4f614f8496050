#!/usr/bin/env node
// `npm start` and the package's `callguard-server` command (package.json "bin").
import { resolvePrincipals } from '../http/auth/principals.js';
import { bootCallguard, exitOnStartupError, onShutdown } from './boot.js';
import { loadConfig } from './config.js';
import { startHttpServer } from '../http/server.js';
import { httpDeps } from './http-deps.js';
import { startHealthThread } from './health-thread-host.js';

/**
 * `npm start`: the HTTP admin API + Bull Board, and on a thread of its own the health worker,
 * evaluator and notifier (src/app/health-thread.ts), in one process.
 */
async function main(): Promise<void> {
  // Bad CALLGUARD_USERS entries refuse start before anything connects.
  const { entries, generated } = resolvePrincipals(loadConfig().users);
  const { cg, logger } = await bootCallguard();
  const health = await startHealthThread(logger).catch(async (err: unknown) => {
    await cg.stop({ graceMs: 0 });
    throw err;
  });
  const http = await startHttpServer(httpDeps(cg, { moreMetrics: () => health.metrics(), readStatus: () => health.readStatus() }), {
    principals: entries,
  });
  logger.info(
    {
      rules: cg.rules.map((r) => r.name),
      queues: cg.config.queues,
      minuteMs: cg.config.minuteMs,
      autoPause: cg.config.autoPause,
      url: http.url,
      principals: entries.map((e) => `${e.name} (${e.role})`),
    },
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
  onShutdown(logger, async () => {
    const graceMs = cg.config.shutdownGraceMs;
    await http.close(graceMs);
    await health.stop();
    await cg.stop({ graceMs });
  });
}

main().catch(exitOnStartupError);
