import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../ops/logger.js';

// Error reports, outcomes and provider choices (one per call placed) arrive in volume; they are
// logged only when they fail.
const INGEST = /^\/(health\/(errors|logs)|providers\/(choose|outcomes))\/?$/;

const pathOf = (req: Request) => (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '';

/** A control action: any request that may change something (pause, resume, alerts, sign-in, board actions, Slack buttons). */
function isControl(req: Request): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS' && !INGEST.test(pathOf(req));
}

let lastId = 0;

/**
 * One access-log line per refused or failed request and per control action, with who acted.
 * Only method, path, status and principal are written: no headers (Authorization, cookies),
 * no query string, no body. A request that is not logged costs a timestamp and one listener:
 * nothing is serialized and no child logger is made (pino-http made three per request, and the
 * profile of POST /health/errors showed them; the line keeps pino-http's shape).
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = Date.now();
    const id = (lastId = (lastId + 1) & 0x7fffffff);
    // 'close' comes once per response, after 'finish' or when the client went away.
    res.once('close', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : isControl(req) ? 'info' : undefined;
      if (!level || !logger.isLevelEnabled(level)) return;
      const path = pathOf(req);
      const user = req.user;
      logger[level](
        {
          reqId: id,
          req: { id, method: req.method, path, remoteAddress: req.socket?.remoteAddress },
          ...(user ? { principal: user.name, role: user.role } : {}),
          res: { statusCode: status },
          ...(level === 'error' ? { err: new Error(`failed with status code ${status}`) } : {}),
          responseTime: Date.now() - started,
        },
        `${req.method} ${path} ${status}`,
      );
    });
    next();
  };
}
