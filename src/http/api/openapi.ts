/**
 * The OpenAPI 3.1 description of callguard's HTTP API, served at GET /openapi.json.
 * test/openapi.test.ts walks the real app's router against `paths` and calls every operation
 * without credentials, so a route added, removed or re-guarded without updating this fails there.
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { Role } from '../auth/principals.js';
import { BODY_LIMIT_BYTES } from '../middleware/body.js';
import { auditQuery, errorsBody, pauseBody, resumeBody } from './schemas.js';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  /** CALLGUARD_METRICS_PUBLIC: GET /metrics needs no token. */
  metricsPublic?: boolean;
}

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/** A request schema straight from its zod definition, as a client must send it (defaults optional). */
function fromZod(schema: z.ZodType, descriptions: Record<string, string> = {}): Json {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  // The document's dialect is already JSON Schema 2020-12.
  delete out.$schema;
  const props = out.properties as Record<string, Json> | undefined;
  for (const [key, description] of Object.entries(descriptions)) {
    if (!props?.[key]) throw new Error(`openapi: no property ${key} to describe`);
    props[key] = { ...props[key], description };
  }
  return out;
}

const ref = (kind: 'schemas' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const json = (schema: Json) => ({ 'application/json': { schema } });
const html = { 'text/html': { schema: { type: 'string' } } };
const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const isoOrNull = { type: ['string', 'null'], format: 'date-time' };
const strings = { type: 'array', items: str };
const counts = { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } };
const obj = (properties: Record<string, unknown>, extra: Json = {}): Json => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  ...extra,
});

// The refusals every body-reading route shares; 401/403 are added by `bearer` below.
const bodyErrors = { '400': ref('responses', 'BadRequest'), '413': ref('responses', 'PayloadTooLarge'), '415': ref('responses', 'UnsupportedMediaType') };

/** An operation behind `Authorization: Bearer`, open to `roles` (admin may always). */
function bearer(roles: Role[], op: Json & { responses: Json }, alternatives: Json[] = []): Json {
  const who = [...new Set<Role>([...roles, 'admin'])];
  return {
    ...op,
    security: [{ bearerAuth: [] }, ...alternatives],
    'x-callguard-roles': who,
    responses: {
      ...op.responses,
      // A token in the URL is refused before it is looked at: URLs end up in access logs.
      '400': ref('responses', 'BadRequest'),
      '401': ref('responses', 'Unauthorized'),
      '403': ref('responses', 'Forbidden'),
      '429': errorResponse('too_many_requests: too many failed authentications from this client address (5 × CALLGUARD_LOGIN_ATTEMPTS per 15 minutes).', { 'Retry-After': { schema: { type: 'integer' } } }),
    },
  };
}

const schemas: Record<string, Json> = {
  Error: {
    type: 'object',
    description:
      'Every error of the JSON API. Codes: invalid_request, unknown_rule, malformed_body, unauthorized, forbidden, not_found, ' +
      'payload_too_large, unsupported_media_type, request_aborted, bad_request, invalid_config, internal.',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: obj({ code: { type: 'string', examples: ['invalid_request'] }, message: { type: 'string' } }, { additionalProperties: false }),
    },
  },
  Scope: {
    description: 'The dispatch queues a hold covers, or "all".',
    oneOf: [{ const: 'all' }, { type: 'array', items: str, minItems: 1 }],
  },
  Hold: {
    type: 'object',
    required: ['id', 'kind', 'effect', 'scope', 'by', 'reason', 'since', 'until', 'rule'],
    properties: {
      id: { type: 'string', description: 'rule:<name>, alert:<source>:<id> or manual:<uuid>', examples: ['rule:twilio'] },
      kind: { enum: ['rule', 'alert', 'manual'] },
      effect: { enum: ['pause', 'shadow', 'probe'], description: 'shadow holds pause nothing; probe holds let calls run at max_per_minute' },
      scope: ref('schemas', 'Scope'),
      by: { type: 'string', description: 'callguard for rules, alert:<source> for alerts, the principal for people' },
      reason: str,
      since: isoOrNull,
      until: isoOrNull,
      rule: strOrNull,
      max_per_minute: { type: 'integer' },
      alert_name: str,
      source: str,
      count: { type: 'integer' },
      threshold: { type: 'integer' },
      window_minutes: { type: 'integer' },
    },
  },
  ServiceStatus: {
    type: 'object',
    description: 'The first five fields keep the original system’s meaning, taken from the oldest hold that pauses.',
    required: ['is_paused', 'pause_reason', 'paused_by', 'paused_at', 'source_rule', 'rules', 'holds', 'queues', 'events_queue', 'auto_pause', 'now'],
    properties: {
      is_paused: { type: 'boolean' },
      pause_reason: strOrNull,
      paused_by: strOrNull,
      paused_at: isoOrNull,
      source_rule: strOrNull,
      rules: {
        type: 'object',
        additionalProperties: obj({
          error_count: { type: 'integer' },
          threshold: { type: 'integer' },
          window_minutes: { type: 'integer' },
          queues: ref('schemas', 'Scope'),
          clear_since: isoOrNull,
        }),
      },
      holds: { type: 'array', items: ref('schemas', 'Hold') },
      queues: { type: 'object', additionalProperties: obj({ paused: { type: 'boolean' }, held: { type: 'boolean' }, counts }) },
      events_queue: obj({ counts }),
      auto_pause: { enum: ['on', 'shadow', 'off'] },
      now: isoOrNull,
    },
  },
  AuditEntry: obj({
    id: str,
    event: { type: 'string', examples: ['hold-added', 'hold-released', 'would-pause', 'would-resume', 'probe-started', 'probe-ended'] },
    hold: strOrNull,
    kind: strOrNull,
    by: str,
    reason: str,
    paused: strings,
    resumed: strings,
    at: isoOrNull,
    detail: { oneOf: [ref('schemas', 'Hold'), { type: 'null' }] },
  }),
  PauseRequest: fromZod(pauseBody, {
    reason: 'Shown in the status, the audit and Slack.',
    queues: 'Dispatch queues to pause; omitted: every dispatch queue.',
    until: 'ISO 8601 time, in the future; the hold is lifted automatically then.',
    paused_by: 'Accepted and ignored: the actor is always the authenticated principal.',
  }),
  ResumeRequest: fromZod(resumeBody, {
    queues: 'Release every hold covering these queues; omitted: every hold.',
    resumed_by: 'Accepted and ignored: the actor is always the authenticated principal.',
  }),
  ErrorReports: fromZod(errorsBody),
  Alert: {
    type: 'object',
    description: 'One alert of an Alertmanager or Grafana webhook; other fields are accepted and ignored.',
    required: ['status', 'labels'],
    properties: {
      status: { enum: ['firing', 'resolved'] },
      labels: {
        type: 'object',
        additionalProperties: str,
        description: 'callguard_queues (comma list) or callguard_rule / rule choose the scope; otherwise every dispatch queue.',
      },
      annotations: { type: 'object', additionalProperties: str },
      fingerprint: str,
    },
  },
  GenericAlert: {
    type: 'object',
    additionalProperties: false,
    properties: {
      rule: { type: 'string', minLength: 1, maxLength: 200 },
      reason: { type: 'string', maxLength: 1000 },
      status: { enum: ['firing', 'resolved'], default: 'firing' },
      id: { type: 'string', minLength: 1, maxLength: 200, description: 'Hold alert:generic:<id or rule>; the resolved notice must carry the same.' },
    },
  },
  AlertmanagerWebhook: {
    type: 'object',
    required: ['version', 'alerts'],
    properties: { version: { const: '4' }, alerts: { type: 'array', items: ref('schemas', 'Alert'), minItems: 1, maxItems: 500 } },
  },
  GrafanaWebhook: {
    type: 'object',
    required: ['alerts'],
    properties: {
      orgId: { type: 'number' },
      state: str,
      title: str,
      alerts: { type: 'array', items: ref('schemas', 'Alert'), minItems: 1, maxItems: 500 },
    },
  },
};

const errorResponse = (description: string, headers?: Json): Json => ({ description, ...(headers ? { headers } : {}), content: json(ref('schemas', 'Error')) });

const responses: Record<string, Json> = {
  BadRequest: errorResponse('A field is wrong (the message names it), a rule or queue is not configured, the body is not JSON or not UTF-8, or a token was sent in the URL.'),
  Unauthorized: errorResponse('No credentials, a wrong token or a bad signature.', {
    'WWW-Authenticate': { description: 'Bearer realm="callguard", when a bearer token was missing or wrong.', schema: str },
  }),
  Forbidden: errorResponse('The principal’s role may not do this.'),
  PayloadTooLarge: errorResponse(`Body over ${BODY_LIMIT_BYTES / 1024} KiB (after gzip/deflate inflation).`),
  UnsupportedMediaType: errorResponse('Wrong or missing Content-Type, a charset other than UTF-8, or an unknown Content-Encoding.'),
};

const securitySchemes: Record<string, Json> = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'A principal’s secret from CALLGUARD_USERS (name:role:secret). Roles: admin (everything), viewer (read), alerts (ingest). Never in the URL.',
  },
  callguardSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Callguard-Signature',
    description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with CALLGUARD_WEBHOOK_SECRET; within 5 minutes of callguard’s clock. POST /health/alert only.',
  },
  grafanaSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Grafana-Alerting-Signature',
    description:
      'Grafana’s HMAC-SHA256 (hex) with CALLGUARD_WEBHOOK_SECRET, over "<timestamp>:<body>" when X-Grafana-Alerting-Timestamp is sent ' +
      '(refused after 5 minutes), else over the body. POST /health/alert only.',
  },
  slackSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Slack-Signature',
    description: 'Slack’s v0 request signature with SLACK_SIGNING_SECRET, plus X-Slack-Request-Timestamp.',
  },
  sessionCookie: { type: 'apiKey', in: 'cookie', name: 'callguard.sid', description: 'The Bull Board session set by POST /admin/login.' },
};

const accepted = (schema: Json) => ({ '202': { description: 'Accepted: one job on the events queue.', content: json(schema) } });
const redirect = (to: string) => ({ description: `Redirect to ${to}.`, headers: { Location: { schema: str } } });
const originCheck = errorResponse('Cross-site request: the Origin is not this host (or missing, without Sec-Fetch-Site: same-origin).');

function paths(opts: OpenApiOptions): Record<string, Json> {
  const metrics = {
    operationId: 'getMetrics',
    tags: ['ops'],
    summary: 'Prometheus metrics',
    description: `prom-client text format. ${opts.metricsPublic ? 'Public: CALLGUARD_METRICS_PUBLIC=true.' : 'Set CALLGUARD_METRICS_PUBLIC=true to let scrapers in without a token.'}`,
    responses: { '200': { description: 'Metrics.', content: { 'text/plain': { schema: str } } } },
  };
  return {
    '/health/service': {
      get: bearer(['viewer'], {
        operationId: 'getServiceStatus',
        tags: ['admin'],
        summary: 'Holds, rule counts and queue states',
        responses: { '200': { description: 'Status.', content: json(ref('schemas', 'ServiceStatus')) } },
      }),
    },
    '/health/audit': {
      get: bearer(['viewer'], {
        operationId: 'getAudit',
        tags: ['admin'],
        summary: 'Hold changes, newest first',
        parameters: [{ name: 'limit', in: 'query', required: false, schema: fromZod(auditQuery.shape.limit) }],
        responses: { '200': { description: 'Audit entries.', content: json(obj({ entries: { type: 'array', items: ref('schemas', 'AuditEntry') } })) } },
      }),
    },
    '/health/pause': {
      post: bearer(['admin'], {
        operationId: 'pause',
        tags: ['admin'],
        summary: 'Place one manual hold',
        description: 'An empty body pauses every dispatch queue.',
        requestBody: { required: false, content: json(ref('schemas', 'PauseRequest')) },
        responses: {
          '200': {
            description: 'The hold placed, and the queues it newly paused.',
            content: json(obj({ status: { const: 'paused' }, paused_by: str, hold: ref('schemas', 'Hold'), newly_paused: strings })),
          },
          ...bodyErrors,
        },
      }),
    },
    '/health/resume': {
      post: bearer(['admin'], {
        operationId: 'resume',
        tags: ['admin'],
        summary: 'Release every hold covering some or all queues',
        description: 'An empty body releases every hold. Released rules’ windows restart.',
        requestBody: { required: false, content: json(ref('schemas', 'ResumeRequest')) },
        responses: {
          '200': {
            description: 'The holds released, and the queues that resumed.',
            content: json(obj({ status: { const: 'resumed' }, resumed_by: str, released: { type: 'array', items: ref('schemas', 'Hold') }, newly_resumed: strings })),
          },
          ...bodyErrors,
        },
      }),
    },
    '/health/alert': {
      post: bearer(
        ['alerts'],
        {
          operationId: 'postAlert',
          tags: ['ingest'],
          summary: 'Alert webhook: generic, Alertmanager or Grafana',
          description: 'Firing adds a hold, resolved releases exactly that hold. A signature is used only when no Authorization header is sent.',
          requestBody: {
            required: true,
            content: json({ oneOf: [ref('schemas', 'GenericAlert'), ref('schemas', 'AlertmanagerWebhook'), ref('schemas', 'GrafanaWebhook')] }),
          },
          responses: {
            ...accepted(
              obj({
                job_id: strOrNull,
                alerts: { type: 'array', items: obj({ hold: str, status: { enum: ['firing', 'resolved'] }, name: str }) },
                rejected: { type: 'array', description: 'Alerts of the group left out, by 0-based index in alerts; the others took effect.', items: obj({ index: { type: 'integer' }, error: str }) },
              }),
            ),
            ...bodyErrors,
            '409': errorResponse('replayed: this signed request was already accepted.'),
          },
        },
        [{ callguardSignature: [] }, { grafanaSignature: [] }],
      ),
    },
    '/health/errors': {
      post: bearer(['alerts'], {
        operationId: 'postErrors',
        tags: ['ingest'],
        summary: 'Count errors against rules',
        requestBody: { required: true, content: json(ref('schemas', 'ErrorReports')) },
        responses: { ...accepted(obj({ job_id: strOrNull, counts })), ...bodyErrors },
      }),
    },
    '/health/logs': {
      post: bearer(['alerts'], {
        operationId: 'postLogs',
        tags: ['ingest'],
        summary: 'Match log records against rules’ phrases',
        description: 'Records need a message (message, msg, log, err.message) and a level (level, severity, levelname) to count.',
        requestBody: {
          required: true,
          content: {
            ...json({ oneOf: [{ type: 'array', items: { type: 'object' }, minItems: 1 }, { type: 'object' }] }),
            'application/x-ndjson': { schema: { type: 'string', description: 'One JSON object per line.' } },
            'application/jsonl': { schema: { type: 'string', description: 'One JSON object per line.' } },
          },
        },
        responses: {
          ...accepted(obj({ records: { type: 'integer' }, matched: { type: 'integer' }, counts, job_id: { ...strOrNull, description: 'null when nothing matched' } })),
          ...bodyErrors,
        },
      }),
    },
    '/slack/interactions': {
      post: {
        operationId: 'postSlackInteraction',
        tags: ['slack'],
        summary: 'Slack button presses (Resume)',
        description: 'Answers at once; the resume runs as a slack-action job. Only CALLGUARD_SLACK_ADMINS may resume; others get an ephemeral reply.',
        security: [{ slackSignature: [] }],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: obj({ payload: { type: 'string', description: 'Slack’s JSON payload.' } }) } },
        },
        responses: {
          '200': {
            description: 'Accepted (empty body), or an ephemeral reply to the presser.',
            content: json(obj({ response_type: { const: 'ephemeral' }, replace_original: { type: 'boolean' }, text: str })),
          },
          '400': ref('responses', 'BadRequest'),
          '401': ref('responses', 'Unauthorized'),
          '413': ref('responses', 'PayloadTooLarge'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '503': errorResponse('SLACK_SIGNING_SECRET is not set.'),
        },
      },
    },
    '/metrics': { get: opts.metricsPublic ? { ...metrics, security: [] } : bearer(['viewer'], metrics) },
    '/healthz': {
      get: {
        operationId: 'getLiveness',
        tags: ['ops'],
        summary: 'Liveness: the process serves HTTP',
        security: [],
        responses: { '200': { description: 'Alive.', content: json(obj({ status: { const: 'ok' } })) } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        tags: ['ops'],
        summary: 'Readiness: Redis answers and the evaluator schedule is on time',
        security: [],
        responses: Object.fromEntries(
          (['200', '503'] as const).map((code) => [
            code,
            {
              description: code === '200' ? 'Ready.' : 'Not ready; checks says what failed.',
              content: json(obj({ status: { const: code === '200' ? 'ready' : 'not ready' }, checks: obj({ redis: { type: 'boolean' }, evaluator: { type: 'boolean' } }) })),
            },
          ]),
        ),
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        tags: ['ops'],
        summary: 'This document',
        description: 'Public: it describes routes and roles, never secrets.',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
    '/admin/login': {
      get: {
        operationId: 'getLoginPage',
        tags: ['board'],
        summary: 'Bull Board sign-in form',
        security: [],
        responses: { '200': { description: 'The form.', content: html }, '303': redirect('/admin/queues/ (already signed in)') },
      },
      post: {
        operationId: 'login',
        tags: ['board'],
        summary: 'Sign in to the Bull Board',
        description: 'Needs an Origin of this host (or Sec-Fetch-Site: same-origin). Failed sign-ins are rate limited per address and name.',
        security: [],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: obj({ name: str, secret: { type: 'string', format: 'password' } }) } },
        },
        responses: {
          '303': { ...redirect('/admin/queues/'), description: 'Signed in: the session cookie is set and the browser goes to the board.' },
          '401': { description: 'Unknown name or wrong secret: the form again, with the error.', content: html },
          '403': originCheck,
          '413': ref('responses', 'PayloadTooLarge'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '429': { description: 'Too many failed sign-ins (CALLGUARD_LOGIN_ATTEMPTS per 15 minutes).', content: html },
        },
      },
    },
    '/admin/logout': {
      get: {
        operationId: 'getLogoutPage',
        tags: ['board'],
        summary: 'Sign-out form',
        security: [{ sessionCookie: [] }, {}],
        responses: { '200': { description: 'The form.', content: html }, '303': redirect('/admin/login (not signed in)') },
      },
      post: {
        operationId: 'logout',
        tags: ['board'],
        summary: 'Sign out: the session is deleted',
        security: [{ sessionCookie: [] }, {}],
        responses: { '303': redirect('/admin/login'), '403': originCheck },
      },
    },
  };
}

/** The document for one app; `metricsPublic` follows that app's config. */
export function openApiDocument(opts: OpenApiOptions = {}): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'callguard',
      version,
      description:
        'Pauses BullMQ call-dispatch queues while a provider fails, resumes them when it recovers. Every error is ' +
        '{"error": {"code", "message"}} and a refused request changes nothing. Times are ISO 8601 UTC. The Bull Board ' +
        'under /admin/queues (signed-in viewer or admin) is a browser UI with its own internal API and is not described here.',
    },
    tags: [
      { name: 'admin', description: 'Status and manual pause/resume.' },
      { name: 'ingest', description: 'Alerts, error counts and log records from other systems.' },
      { name: 'slack', description: 'Slack interactivity.' },
      { name: 'ops', description: 'Probes, metrics and this document.' },
      { name: 'board', description: 'Bull Board sign-in (HTML forms).' },
    ],
    security: [{ bearerAuth: [] }],
    paths: paths(opts),
    components: { schemas, responses, securitySchemes },
  };
}
