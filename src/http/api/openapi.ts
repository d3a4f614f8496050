/**
 * The OpenAPI 3.1 document served at GET /openapi.json, generated from the route registry.
 * test/openapi.test.ts validates it, walks the real router against its paths and calls every
 * operation as every role.
 */
import { createRequire } from 'node:module';
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { admitted } from '../../domain/roles.js';
import { BODY_LIMIT_BYTES } from '../middleware/body.js';
import { documentedElsewhere } from './elsewhere.js';
import { apiRoutes, type RegistryOptions } from './registry.js';
import type { Access, ApiRoute, ResponseSpec, RouteContract, SharedResponse } from './route.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const errorRef = { $ref: '#/components/schemas/Error' };
const shared: Record<
  SharedResponse,
  { description: string; headers?: Record<string, { description: string; schema: { type: 'string' | 'integer' } }> }
> = {
  BadRequest: {
    description:
      'A field is wrong (the message names it), a rule or queue is not configured, the body is not JSON or not UTF-8, or a token was sent in the URL.',
  },
  Unauthorized: {
    description: 'No credentials, a wrong token or a bad signature.',
    headers: {
      'WWW-Authenticate': {
        description: 'Bearer realm="callguard", when a bearer token was missing or wrong.',
        schema: { type: 'string' },
      },
    },
  },
  Forbidden: { description: 'The principal’s role may not do this.' },
  PayloadTooLarge: { description: tooLarge(BODY_LIMIT_BYTES) },
  UnsupportedMediaType: { description: 'Wrong or missing Content-Type, a charset other than UTF-8, or an unknown Content-Encoding.' },
  TooManyRequests: {
    description:
      'too_many_requests: too many failed authentications from this client address (5 × CALLGUARD_LOGIN_ATTEMPTS per 15 minutes).',
    headers: { 'Retry-After': { description: 'Seconds until the address may try again.', schema: { type: 'integer' } } },
  },
};

const securitySchemes = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A principal’s secret from CALLGUARD_USERS (name:role:secret). Roles: admin (everything), viewer (read), alerts (ingest). Never in the URL.',
  },
  callguardSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Callguard-Signature',
    description:
      't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with CALLGUARD_WEBHOOK_SECRET; within 5 minutes of callguard’s clock. POST /health/alert only.',
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
} as const;

const SECURITY: Record<Exclude<Access, object>, RouteConfig['security']> = {
  webhook: [{ bearerAuth: [] }, { callguardSignature: [] }, { grafanaSignature: [] }],
  public: [],
  slack: [{ slackSignature: [] }],
  session: [{ sessionCookie: [] }, {}],
};

/** The session cookie; a route that sends anonymous browsers to sign in is also open without it. */
const sessionSecurity = (access: { signIn?: string }): RouteConfig['security'] => [{ sessionCookie: [] }, ...(access.signIn ? [{}] : [])];

function response(spec: ResponseSpec): ResponseConfig {
  const headers =
    spec.headers &&
    Object.fromEntries(
      Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: 'string' as const } }]),
    );
  const content = spec.schema
    ? { 'application/json': { schema: spec.schema } }
    : spec.media
      ? { [spec.media]: { schema: { type: 'string' as const } } }
      : undefined;
  return { description: spec.description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) };
}

function tooLarge(bytes: number): string {
  const size = bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
  return `Body over ${size} (after gzip/deflate inflation).`;
}

function operation(r: RouteContract | ApiRoute): RouteConfig {
  const access = r.access;
  const bearer = (typeof access === 'object' && 'roles' in access) || access === 'webhook';
  const session = typeof access === 'object' && 'session' in access ? access : undefined;
  const body = 'body' in r ? r.body : undefined;
  const implied: SharedResponse[] = [
    ...(bearer ? (['BadRequest', 'Unauthorized', 'Forbidden', 'TooManyRequests'] as const) : []),
    // A session route sends a browser without a session to `signIn`, else answers 401; its own 403
    // may say more (writes are refused cross-site too).
    ...(session && !session.signIn ? (['Unauthorized'] as const) : []),
    ...(session && !r.responses[403] ? (['Forbidden'] as const) : []),
    ...(body ? (['BadRequest', 'UnsupportedMediaType'] as const) : []),
    ...(body && !body.maxBytes ? (['PayloadTooLarge'] as const) : []),
    ...(r.shared ?? []),
  ];
  // Documented for bearer routes only: a client with a token can act on them.
  const roles = typeof access === 'object' && 'roles' in access ? access.roles : access === 'webhook' ? (['alerts'] as const) : undefined;
  const query = 'query' in r ? r.query : undefined;
  const media = body?.media
    ? Object.fromEntries(
        Object.entries(body.media).map(([type, description]) => [type, { schema: { type: 'string' as const, description } }]),
      )
    : {};
  return {
    method: r.method,
    path: r.path.replace(/:(\w+)/g, '{$1}'),
    operationId: r.operationId,
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: typeof access !== 'object' ? SECURITY[access] : session ? sessionSecurity(session) : [{ bearerAuth: [] }],
    ...(roles ? { 'x-callguard-roles': admitted(roles) } : {}),
    request: {
      ...(query ? { query } : {}),
      ...(r.params ? { params: r.params } : {}),
      ...(body ? { body: { required: !body.optional, content: { 'application/json': { schema: body.schema }, ...media } } } : {}),
      ...(r.form ? { body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: r.form } } } } : {}),
    },
    responses: {
      ...Object.fromEntries(implied.map((name) => [STATUS[name], { $ref: `#/components/responses/${name}` }])),
      ...(body?.maxBytes ? { 413: response({ description: tooLarge(body.maxBytes) }) } : {}),
      // A status the route declares and its access also implies has both meanings: say both.
      ...Object.fromEntries(Object.entries(r.responses).map(([status, spec]) => [status, response(withImplied(spec, implied, status))])),
    },
  };
}

function withImplied(spec: ResponseSpec, implied: SharedResponse[], status: string): ResponseSpec {
  const also = [...new Set(implied)].filter((name) => String(STATUS[name]) === status).map((name) => shared[name]);
  if (!also.length) return spec;
  const headers = Object.fromEntries(also.flatMap((a) => Object.entries(a.headers ?? {}).map(([h, v]) => [h, v.description])));
  return {
    ...spec,
    description: [spec.description, ...also.map((a) => `Or ${a.description}`)].join(' '),
    headers: { ...headers, ...spec.headers },
  };
}

const STATUS: Record<SharedResponse, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  TooManyRequests: 429,
};

/** The document for one app; `metricsPublic` follows that app's config. */
export function openApiDocument(opts: RegistryOptions = {}): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  for (const [name, scheme] of Object.entries(securitySchemes)) registry.registerComponent('securitySchemes', name, scheme);
  for (const [name, r] of Object.entries(shared))
    registry.registerComponent('responses', name, { ...r, content: { 'application/json': { schema: errorRef } } });
  for (const r of [...apiRoutes(opts), ...documentedElsewhere]) registry.registerPath(operation(r));
  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
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
      { name: 'console', description: 'The operator console under /admin/ (browser session; viewers read, admins act).' },
    ],
    security: [{ bearerAuth: [] }],
  });
  // Served as JSON: drop what JSON cannot carry (undefined members).
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}
