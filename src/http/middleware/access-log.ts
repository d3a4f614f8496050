import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../../ops/logger.js';

// Error reports arrive in volume; they are logged only when they fail.
const INGEST = /^\/health\/(errors|logs)\/?$/;

const pathOf = (req: IncomingMessage) => ((req as { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0] ?? '';

/** A control action: any request that may change something (pause, resume, alerts, sign-in, board actions, Slack buttons). */
function isControl(req: IncomingMessage): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS' && !INGEST.test(pathOf(req));
}

/**
 * One access-log line per refused or failed request and per control action, with who acted.
 * Only method, path, status and principal are written: no headers (Authorization, cookies),
 * no query string, no body.
 */
export function accessLog(logger: Logger): RequestHandler {
  return pinoHttp<IncomingMessage, ServerResponse>({
    logger,
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return isControl(req) ? 'info' : 'silent';
    },
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customProps: (req) => {
      const user = (req as { user?: { name: string; role: string } }).user;
      return user ? { principal: user.name, role: user.role } : {};
    },
    serializers: {
      req: (req: { id: unknown; method: string; raw: IncomingMessage; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: pathOf(req.raw),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // Belt and braces, should a serializer above ever widen.
    redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    quietReqLogger: true,
  });
}
