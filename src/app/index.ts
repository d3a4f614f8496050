/**
 * The entry of the package @callguard-dev/server: the service, for embedding it in a process of your
 * own (`npm start` is main.ts over the same parts). Apps that place calls use @callguard-dev/client.
 *   const config = loadConfig();
 *   const cg = await createCallguard(config, loadRulesFile(config.rulesPath, config.queues).rules);
 *   await cg.startWorker();
 *   const http = await startHttpServer(httpDeps(cg), { principals: resolvePrincipals(config.users).entries });
 */
export { createCallguard, type Callguard } from './callguard.js';
export { loadConfig, ENV_VARIABLES, type Config } from './config.js';
export { bootCallguard, onShutdown } from './boot.js';
export { startHttpServer, type HttpServer } from '../http/server.js';
export { httpDeps } from './http-deps.js';
export { createApp, type AppOptions, type CallguardApp } from '../http/app.js';
export { resolvePrincipals, parsePrincipals, hashSecret, type PrincipalEntry, type Role } from '../http/auth/principals.js';
export { createLogger, type Logger } from '../ops/logger.js';
export { parseRules, lintRules, type LoadedRules } from '../domain/rules.js';
export { loadRulesFile } from '../store/rules-file.js';
export { isCallguardError, CallguardError, ConfigError } from '../domain/errors.js';
export type { Hold, HoldKind, HoldEffect, Rule, Scope } from '../domain/types.js';
