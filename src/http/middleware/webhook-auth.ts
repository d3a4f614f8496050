import { Router, type RequestHandler } from 'express';
import { AuthError } from '../../domain/errors.js';
import { readBody } from './body.js';
import { requireRole } from './require-role.js';
import { verifyCallguardSignature, verifyGrafanaSignature, type VerifyResult } from './signature.js';

export const CALLGUARD_SIGNATURE_HEADER = 'x-callguard-signature';
export const GRAFANA_SIGNATURE_HEADER = 'x-grafana-alerting-signature';
/** Grafana sends a timestamp only when the contact point's hmac_config names this header. */
export const GRAFANA_TIMESTAMP_HEADER = 'x-grafana-alerting-timestamp';

/** A webhook sender authenticated by signature acts as this principal. */
const WEBHOOK_PRINCIPAL = { name: 'webhook', role: 'alerts' } as const;

/**
 * Authenticates POST /health/alert and reads its body: a bearer token (alerts or admin) when an
 * Authorization header is sent, otherwise an HMAC signature when CALLGUARD_WEBHOOK_SECRET is set.
 * A signature is checked over the exact bytes before anything parses them.
 */
export function webhookAuth(authenticate: RequestHandler, secret: string | undefined): RequestHandler {
  const byBearer = [authenticate, requireRole('alerts'), ...readBody];
  const bySignature: RequestHandler[] = [
    ...readBody,
    (req, _res, next) => {
      const raw = req.rawBody ?? Buffer.alloc(0);
      const ours = req.get(CALLGUARD_SIGNATURE_HEADER);
      const result: VerifyResult =
        ours !== undefined
          ? verifyCallguardSignature(raw, ours, secret!)
          : verifyGrafanaSignature(raw, req.get(GRAFANA_SIGNATURE_HEADER), secret!, req.get(GRAFANA_TIMESTAMP_HEADER));
      if (!result.ok) return next(new AuthError(`webhook signature rejected: ${result.reason}`));
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
