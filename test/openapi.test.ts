import { readFileSync } from 'node:fs';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/http/auth/principals.js';
import { openApiDocument } from '../src/http/api/openapi.js';
import SwaggerParser from '@apidevtools/swagger-parser';
import { request, startTestHttp, stopTestHttp, tokenOf, USERS, type Reply, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };
const SECRETS = {
  CALLGUARD_WEBHOOK_SECRET: 'webhook-secret-5e4d3c2b1a09-8f7e6d5c4b3a',
  SLACK_SIGNING_SECRET: 'slack-signing-secret-8d7c6b5a',
};
const ROLES = Object.keys(USERS) as Role[];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ERROR_REF = '#/components/schemas/Error';

type Obj = Record<string, any>;
const doc = openApiDocument() as Obj;

interface Operation {
  method: string;
  path: string;
  op: Obj;
}

const operations = (d: Obj): Operation[] =>
  Object.entries(d.paths as Obj).flatMap(([path, item]) =>
    Object.entries(item as Obj)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op: op as Obj })),
  );
const documented = (d: Obj) =>
  operations(d)
    .map(({ method, path }) => `${method} ${path}`)
    .sort();

// A local JSON pointer such as #/components/responses/BadRequest.
const resolvePointer = (root: Obj, ref: string): unknown =>
  ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, key) => node?.[key], root);
const deref = (v: unknown): Obj => {
  const o = v as Obj;
  return typeof o?.$ref === 'string' ? (resolvePointer(doc, o.$ref) as Obj) : o;
};
/** swagger-parser checks the document against the OpenAPI 3.1 schema and resolves every $ref; it throws naming each problem. */
const validateDocument = (d: Obj) => SwaggerParser.validate(structuredClone(d) as never);
const needsAuth = (op: Obj) =>
  Array.isArray(op.security) && op.security.length > 0 && !op.security.some((s: Obj) => Object.keys(s).length === 0);
const usesBearer = (op: Obj) => Array.isArray(op.security) && op.security.some((s: Obj) => 'bearerAuth' in s);

// --- What the real app serves: Express 5's router (router 2.3) lists routes and mounted routers.

interface RouteInfo {
  path: string | RegExp;
  methods?: string[];
  router?: Listing;
}
interface Listing {
  listRoutes?(): RouteInfo[];
}

const joinPath = (prefix: string, path: string) => `${prefix.replace(/\/$/, '')}${path === '/' ? '' : path}`;
// Express `:name` / `*name` parameters are OpenAPI `{name}` templates.
const template = (path: string) => path.replace(/[:*](\w+)/g, '{$1}');

function served(router: Listing, prefix = ''): string[] {
  if (typeof router.listRoutes !== 'function')
    throw new Error('router.listRoutes() is missing: this walk needs router >= 2.3 (Express 5.3)');
  return router.listRoutes().flatMap((r) => {
    if (typeof r.path !== 'string')
      throw new Error(`a RegExp route (${String(r.path)}) under ${prefix || '/'} cannot be documented as an OpenAPI path`);
    const path = joinPath(prefix, r.path) || '/';
    if (r.router) return served(r.router, path);
    const methods = r.methods ?? [];
    if (methods.includes('*')) throw new Error(`${path} answers every method (.all()); document each method instead`);
    // Express answers HEAD for every GET by itself; OpenAPI documents the GET.
    return methods.filter((m) => !(m === 'HEAD' && methods.includes('GET'))).map((m) => `${m} ${template(path)}`);
  });
}

const servedBy = (app: Express) => [...new Set(served((app as unknown as { router: Listing }).router))].sort();

// --- Calling the documented operations.

function probeInit(op: Obj, token?: string): RequestInit & { token?: string } {
  const content = deref(op.requestBody)?.content as Obj | undefined;
  const type = content ? Object.keys(content)[0]! : undefined;
  if (!type) return token ? { token } : {};
  // Bodies every route refuses or ignores, so a probe that gets through authentication changes nothing.
  const body = type === 'application/x-www-form-urlencoded' ? 'payload=%7B%7D' : '{"callguard_openapi_probe":true}';
  return { headers: { 'content-type': type }, body, ...(token ? { token } : {}) };
}

function expectDocumentedReply(o: Operation, reply: Reply, what: string) {
  const where = `${o.method} ${o.path} ${what}`;
  const response = deref(o.op.responses[String(reply.status)]);
  expect(response, `${where} answered ${reply.status}, which is not documented (${reply.text.slice(0, 200)})`).toBeDefined();
  if (response.content && reply.text.length > 0) {
    const type = (reply.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(response.content), `${where}: content type ${type}`).toContain(type);
  }
  if (response.content?.['application/json']?.schema?.$ref === ERROR_REF) {
    expect(Object.keys(reply.json ?? {}), where).toEqual(['error']);
    expect(Object.keys(reply.json.error).sort(), where).toEqual(['code', 'message']);
    expect(typeof reply.json.error.code, where).toBe('string');
    expect(typeof reply.json.error.message, where).toBe('string');
  }
}

describe('the OpenAPI document', () => {
  let t: TestHttp;
  beforeAll(async () => {
    t = await startTestHttp(RULES, SECRETS);
  });
  afterAll(() => stopTestHttp(t));

  it('is valid OpenAPI 3.1 (swagger-parser), JSON-safe, with the package version', async () => {
    const validated = await validateDocument(doc);
    expect((validated as Obj).openapi).toBe('3.1.0');
    // JSON-safe: what is served is exactly this object.
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(version);
  });

  it('when a document is broken, then the validator refuses it', async () => {
    const dangling = structuredClone(doc);
    dangling.paths['/health/resume'].post.requestBody.content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
    await expect(validateDocument(dangling)).rejects.toThrow(/Nope/);
    const undescribed = structuredClone(doc);
    undescribed.paths['/health/service'].get.responses['200'] = { content: {} };
    await expect(validateDocument(undescribed)).rejects.toThrow();
  });

  it('when the router is walked, then it serves exactly the documented (method, path) pairs', () => {
    const routes = servedBy(t.http.app);
    for (const prefix of ['/health/', '/slack/', '/metrics', '/healthz', '/readyz', '/openapi.json', '/admin/login']) {
      expect(
        routes.some((r) => r.split(' ')[1]!.startsWith(prefix)),
        `the walk found nothing under ${prefix}: ${routes.join(', ')}`,
      ).toBe(true);
    }
    const docd = documented(doc);
    expect(
      routes.filter((r) => !docd.includes(r)),
      'served but not documented',
    ).toEqual([]);
    expect(
      docd.filter((r) => !routes.includes(r)),
      'documented but not served',
    ).toEqual([]);
  });

  it('when an operation needs credentials, then it documents 401 (and 403 for role-checked bearer routes)', () => {
    for (const { method, path, op } of operations(doc)) {
      if (!needsAuth(op)) continue;
      expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
      if (usesBearer(op)) {
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('403');
        expect(op['x-callguard-roles'], `${method} ${path}: x-callguard-roles`).toEqual(expect.arrayContaining(['admin']));
      }
    }
  });

  it('when GET /openapi.json is called without credentials, then it is this document and holds no secret', async () => {
    const reply = await request(`${t.url}/openapi.json`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.json).toEqual(doc);
    for (const secret of [...Object.values(USERS).map((u) => u.secret), ...Object.values(SECRETS)])
      expect(reply.text).not.toContain(secret);
  });

  it.each(operations(doc).map((o) => [`${o.method} ${o.path}`, o] as const))(
    '%s: without credentials, the status is documented, and it is 401 when the route needs credentials',
    async (_name, o) => {
      const reply = await request(`${t.url}${o.path}`, { method: o.method, ...probeInit(o.op) });
      expectDocumentedReply(o, reply, 'without credentials');
      if (needsAuth(o.op)) {
        expect(reply.status).toBe(401);
        expect(reply.json.error.code).toBe('unauthorized');
        if (usesBearer(o.op)) expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer /);
      } else {
        expect(reply.status).not.toBe(401);
      }
    },
  );

  it.each(
    operations(doc)
      .filter((o) => Array.isArray(o.op['x-callguard-roles']))
      .map((o) => [`${o.method} ${o.path}`, o] as const),
  )('%s: the documented roles get through, every other role gets 403', async (_name, o) => {
    const allowed = o.op['x-callguard-roles'] as Role[];
    for (const role of ROLES) {
      const reply = await request(`${t.url}${o.path}`, { method: o.method, ...probeInit(o.op, tokenOf(role)) });
      expectDocumentedReply(o, reply, `as ${role}`);
      if (allowed.includes(role)) expect([401, 403], `${role}: ${reply.text.slice(0, 200)}`).not.toContain(reply.status);
      else expect([reply.status, reply.json?.error?.code], role).toEqual([403, 'forbidden']);
    }
  });

  it('after every probe, nothing changed: no hold, no audit entry', async () => {
    expect(await t.cg.ledger.list()).toEqual([]);
    // The seed's rules version 1 is audited at start; nothing else may be.
    expect((await t.cg.ledger.audit(10)).filter((e) => e.event !== 'rules-published')).toEqual([]);
  });
});

describe('the OpenAPI document with CALLGUARD_METRICS_PUBLIC=true', () => {
  let t: TestHttp;
  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_METRICS_PUBLIC: 'true' }, { worker: false });
  });
  afterAll(() => stopTestHttp(t));

  it('when metrics are public, then the served document says so and /metrics answers without a token', async () => {
    const served = (await request(`${t.url}/openapi.json`)).json as Obj;
    const metrics = served.paths['/metrics'].get as Obj;
    expect(metrics.security).toEqual([]);
    expect(Object.keys(metrics.responses)).not.toContain('401');
    await validateDocument(served);
    const reply = await request(`${t.url}/metrics`);
    expect(reply.status).toBe(200);
    expect(Object.keys(metrics.responses)).toContain('200');
  });
});
