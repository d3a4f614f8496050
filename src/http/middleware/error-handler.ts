import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isCallguardError, isServerFault, NotFoundError, RedisUnavailableError, type CallguardError } from '../../domain/errors.js';
import type { Logger } from '../../ops/logger.js';
import { isRedisFailure } from '../../store/redis.js';
import type { ErrorView } from '../api/views.js';
import { BODY_PARSER_CODES, statusOf } from './errors.js';

/** Set on a response answered early (e.g. 503 while Redis hangs); the route's late outcome is dropped. */
export const ANSWERED_EARLY = 'callguardAnsweredEarly';

/** Answers `{"error": {"code", "message"}}` with the status of the error's kind (or `status` when given). */
export function sendError(res: Response, err: Pick<CallguardError, 'code' | 'kind' | 'message'>, status = statusOf(err)): void {
  res.status(status).json({ error: { code: err.code, message: err.message } } satisfies ErrorView);
}

/** Express' own body-parser failures carry `status` and `type` (http-errors); these are the client's fault. */
function clientHttpError(err: unknown): { status: number; code: string; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  const code = (typeof e.type === 'string' && BODY_PARSER_CODES[e.type]) || 'bad_request';
  const message = e.expose !== false && typeof e.message === 'string' ? e.message : 'Bad request';
  return { status: e.status, code, message };
}

export function notFound(): RequestHandler {
  return (req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.path}`));
}

/** The one place errors become `{"error": {"code", "message"}}`; unexpected ones are logged, not shown. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return res.locals[ANSWERED_EARLY] ? undefined : next(err);
    if (isRedisFailure(err)) err = new RedisUnavailableError(undefined, { cause: err });
    if (isCallguardError(err)) {
      if (isServerFault(err)) logger.error({ err, code: err.code, path: req.path }, 'request failed');
      sendError(res, err);
      return;
    }
    const client = clientHttpError(err);
    if (client) {
      res.status(client.status).json({ error: { code: client.code, message: client.message } } satisfies ErrorView);
      return;
    }
    logger.error({ err, path: req.path, method: req.method }, 'unexpected error in request');
    res.status(500).json({ error: { code: 'internal', message: 'Internal error' } } satisfies ErrorView);
  };
}
