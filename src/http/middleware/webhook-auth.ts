import { Router, type RequestHandler } from 'express';
import { AuthError } from '../../domain/errors.js';
import { BUILT_IN_PRINCIPALS } from '../../domain/roles.js';
import type { ReplayPort } from '../api/ports.js';
import { BODY_LIMIT_BYTES, readBodyUpTo } from './body.js';
import { ReplayedError } from './errors.js';
import { requireRole } from './require-role.js';
import { REPLAY_WINDOW_MS, verifyCallguardSignature, verifyGrafanaSignature, type VerifyResult } from './signature.js';

export const CALLGUARD_SIGNATURE_HEADER = 'x-callguard-signature';
export const GRAFANA_SIGNATURE_HEADER = 'x-grafana-alerting-signature';
/** Grafana sends a timestamp only when the contact point's hmac_config names this header. */
export const GRAFANA_TIMESTAMP_HEADER = 'x-grafana-alerting-timestamp';

/** A webhook sender authenticated by signature acts as this principal. */
const WEBHOOK_PRINCIPAL = { name: BUILT_IN_PRINCIPALS.webhook, role: 'alerts' } as const;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The accepted webhook signature, so a route that fails to act on it can let the sender retry. */
      signed?: { kind: string; signature: string };
    }
  }
}

export interface WebhookAuthOptions {
  replay: ReplayPort;
  /** Accept Grafana's signature over the body alone (no timestamp header): replayable, off by default. */
  grafanaUntimed?: boolean;
  /** The route's body limit (default BODY_LIMIT_BYTES). */
  maxBytes?: number;
}

/**
 * Authenticates POST /health/alert and reads its body: a bearer token (alerts or admin) when an
 * Authorization header is sent, otherwise an HMAC signature when CALLGUARD_WEBHOOK_SECRET is set.
 * A signature is checked over the exact bytes before anything parses them, and accepted once.
 */
export function webhookAuth(authenticate: RequestHandler, secret: string | undefined, opts: WebhookAuthOptions): RequestHandler {
  const readBody = readBodyUpTo(opts.maxBytes ?? BODY_LIMIT_BYTES);
  const byBearer = [authenticate, requireRole('alerts'), ...readBody];
  const bySignature: RequestHandler[] = [
    ...readBody,
    async (req, _res, next) => {
      const raw = req.rawBody ?? Buffer.alloc(0);
      const ours = req.get(CALLGUARD_SIGNATURE_HEADER);
      const grafanaTimestamp = req.get(GRAFANA_TIMESTAMP_HEADER);
      if (ours === undefined && grafanaTimestamp === undefined && !opts.grafanaUntimed) {
        return next(
          new AuthError(
            `webhook signature rejected: Grafana's body-only signature can be replayed; configure the contact point's timestamp header (${GRAFANA_TIMESTAMP_HEADER}) or set CALLGUARD_GRAFANA_UNTIMED_SIGNATURES=true`,
          ),
        );
      }
      const result: VerifyResult =
        ours !== undefined
          ? verifyCallguardSignature(raw, ours, secret!)
          : verifyGrafanaSignature(raw, req.get(GRAFANA_SIGNATURE_HEADER), secret!, grafanaTimestamp);
      if (!result.ok) return next(new AuthError(`webhook signature rejected: ${result.reason}`));
      const kind = ours !== undefined ? 'callguard' : 'grafana';
      // Untimed signatures never leave a window; they are remembered for one window, which refuses quick replays only.
      if (!(await opts.replay.firstUse(kind, result.signature, result.validUntil, REPLAY_WINDOW_MS))) {
        return next(new ReplayedError('this signed request was already accepted; sign each request anew'));
      }
      req.signed = { kind, signature: result.signature };
      req.user = { ...WEBHOOK_PRINCIPAL };
      next();
    },
  ];
  // A Router is itself middleware: it runs its chain, then calls the outer next (or next(err)).
  const viaBearer = Router().use(byBearer);
  const viaSignature = Router().use(bySignature);
  return (req, res, next) => {
    const signed = req.get(CALLGUARD_SIGNATURE_HEADER) !== undefined || req.get(GRAFANA_SIGNATURE_HEADER) !== undefined;
    if (secret && signed && !req.get('authorization')) return viaSignature(req, res, next);
    return viaBearer(req, res, next);
  };
}
