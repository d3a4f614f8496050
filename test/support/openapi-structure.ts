/**
 * A focused structural check of an OpenAPI 3.1 document: the parts of the specification a
 * hand-written document gets wrong (required fields, response keys, $refs, security names,
 * 3.0-isms in schemas). Not a full validator; it returns every problem, not just the first.
 */

type Obj = Record<string, unknown>;

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const PATH_ITEM_FIELDS = new Set([...METHODS, '$ref', 'summary', 'description', 'servers', 'parameters']);
const OPERATION_FIELDS = new Set([
  'tags', 'summary', 'description', 'externalDocs', 'operationId', 'parameters', 'requestBody',
  'responses', 'callbacks', 'deprecated', 'security', 'servers',
]);
const SCHEME_TYPES = new Set(['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect']);
const JSON_TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);
const PARAM_IN = new Set(['query', 'header', 'path', 'cookie']);
const COMPONENT_KINDS = new Set(['schemas', 'responses', 'parameters', 'examples', 'requestBodies', 'headers', 'securitySchemes', 'links', 'callbacks', 'pathItems']);
const MEDIA_TYPE = /^[a-z]+\/[a-z0-9.+-]+$|^\*\/\*$/;
const STATUS_KEY = /^(default|[1-5]XX|[1-5]\d\d)$/;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const extension = (k: string) => k.startsWith('x-');

/** Resolves a local JSON pointer (`#/a/b`), or undefined. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObj(at) || !(key in at)) return undefined;
    at = at[key];
  }
  return at;
}

export function checkOpenApi31(doc: unknown): string[] {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (!isObj(doc)) return ['document: not an object'];

  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) problem('openapi', `expected 3.1.x, got ${String(doc.openapi)}`);
  if (!isObj(doc.info) || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') problem('info', 'title and version (strings) are required');
  if (!isObj(doc.paths) && !isObj(doc.webhooks) && !isObj(doc.components)) problem('document', 'one of paths, webhooks, components is required');
  for (const key of Object.keys(doc)) {
    if (!['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'].includes(key) && !extension(key)) {
      problem(key, 'not an OpenAPI Object field');
    }
  }

  // Every $ref resolves, inside components.
  const walkRefs = (node: unknown, where: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => walkRefs(n, `${where}[${i}]`));
    if (!isObj(node)) return;
    if (typeof node.$ref === 'string') {
      const kind = /^#\/components\/([^/]+)\/[^/]+$/.exec(node.$ref)?.[1];
      if (!kind || !COMPONENT_KINDS.has(kind)) problem(where, `$ref ${node.$ref} does not point at a component`);
      else if (resolvePointer(doc, node.$ref) === undefined) problem(where, `$ref ${node.$ref} does not resolve`);
    }
    for (const [k, v] of Object.entries(node)) walkRefs(v, `${where}.${k}`);
  };
  walkRefs(doc, '#');

  const deref = (v: unknown): unknown => (isObj(v) && typeof v.$ref === 'string' ? resolvePointer(doc, v.$ref) : v);

  // Schemas are JSON Schema 2020-12 here: no 3.0 `nullable`, numeric exclusive bounds, real types.
  const checkSchema = (schema: unknown, where: string): void => {
    if (typeof schema === 'boolean') return;
    if (!isObj(schema)) return void problem(where, 'schema is not an object or boolean');
    if ('nullable' in schema) problem(where, 'nullable is OpenAPI 3.0; use type: [..., "null"]');
    for (const bound of ['exclusiveMinimum', 'exclusiveMaximum']) {
      if (bound in schema && typeof schema[bound] !== 'number') problem(where, `${bound} must be a number in 3.1`);
    }
    if ('type' in schema) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      for (const t of types) if (typeof t !== 'string' || !JSON_TYPES.has(t)) problem(where, `unknown type ${String(t)}`);
    }
    if ('required' in schema && (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== 'string'))) problem(where, 'required must be a list of names');
    if (isObj(schema.properties)) for (const [k, v] of Object.entries(schema.properties)) checkSchema(v, `${where}.properties.${k}`);
    for (const k of ['items', 'additionalProperties', 'not', 'contains', 'propertyNames']) if (k in schema) checkSchema(schema[k], `${where}.${k}`);
    for (const k of ['oneOf', 'anyOf', 'allOf', 'prefixItems']) {
      if (!(k in schema)) continue;
      if (!Array.isArray(schema[k]) || (schema[k] as unknown[]).length === 0) problem(where, `${k} must be a non-empty list`);
      else (schema[k] as unknown[]).forEach((s, i) => checkSchema(s, `${where}.${k}[${i}]`));
    }
  };

  const checkContent = (content: unknown, where: string) => {
    if (!isObj(content) || Object.keys(content).length === 0) return void problem(where, 'content must map media types to Media Type Objects');
    for (const [type, media] of Object.entries(content)) {
      if (!MEDIA_TYPE.test(type)) problem(`${where}.${type}`, 'not a media type');
      if (!isObj(media)) problem(`${where}.${type}`, 'not a Media Type Object');
      else if ('schema' in media) checkSchema(media.schema, `${where}.${type}.schema`);
    }
  };

  const components = isObj(doc.components) ? doc.components : {};
  const schemes = isObj(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    const where = `components.securitySchemes.${name}`;
    if (!isObj(scheme) || typeof scheme.type !== 'string' || !SCHEME_TYPES.has(scheme.type)) {
      problem(where, 'type must be one of apiKey, http, mutualTLS, oauth2, openIdConnect');
      continue;
    }
    if (scheme.type === 'apiKey' && (typeof scheme.name !== 'string' || !['query', 'header', 'cookie'].includes(String(scheme.in)))) problem(where, 'apiKey needs name and in');
    if (scheme.type === 'http' && typeof scheme.scheme !== 'string') problem(where, 'http needs scheme');
  }
  if (isObj(components.schemas)) for (const [name, s] of Object.entries(components.schemas)) checkSchema(s, `components.schemas.${name}`);

  const checkSecurity = (security: unknown, where: string) => {
    if (!Array.isArray(security)) return void problem(where, 'security must be a list');
    security.forEach((req, i) => {
      if (!isObj(req)) return void problem(`${where}[${i}]`, 'not a Security Requirement Object');
      for (const [name, scopes] of Object.entries(req)) {
        if (!(name in schemes)) problem(`${where}[${i}]`, `unknown security scheme ${name}`);
        if (!Array.isArray(scopes)) problem(`${where}[${i}].${name}`, 'scopes must be a list');
      }
    });
  };
  if ('security' in doc) checkSecurity(doc.security, 'security');

  const tags = new Set(Array.isArray(doc.tags) ? doc.tags.map((t) => (isObj(t) ? t.name : undefined)) : []);
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
    if (!path.startsWith('/')) problem(path, 'paths start with /');
    if (!isObj(item)) {
      problem(path, 'not a Path Item Object');
      continue;
    }
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!PATH_ITEM_FIELDS.has(method) && !extension(method)) problem(where, 'not a Path Item field');
      if (!METHODS.has(method)) continue;
      if (!isObj(op)) {
        problem(where, 'not an Operation Object');
        continue;
      }
      for (const key of Object.keys(op)) if (!OPERATION_FIELDS.has(key) && !extension(key)) problem(where, `${key} is not an Operation field`);
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problem(where, `operationId ${op.operationId} is not unique`);
        operationIds.add(op.operationId);
      }
      for (const tag of Array.isArray(op.tags) ? op.tags : []) if (!tags.has(tag)) problem(where, `tag ${String(tag)} is not declared`);
      if ('security' in op) checkSecurity(op.security, `${where} security`);

      const params = Array.isArray(op.parameters) ? op.parameters.map(deref) : [];
      for (const p of params) {
        if (!isObj(p) || typeof p.name !== 'string' || !PARAM_IN.has(String(p.in))) {
          problem(where, 'a parameter needs name and in (query, header, path, cookie)');
          continue;
        }
        if (('schema' in p) === ('content' in p)) problem(`${where} ${p.name}`, 'a parameter has exactly one of schema, content');
        if ('schema' in p) checkSchema(p.schema, `${where} ${p.name}`);
        if (p.in === 'path' && (p.required !== true || !templated.includes(p.name))) problem(`${where} ${p.name}`, 'path parameters are required and appear in the path');
      }
      for (const name of templated) if (!params.some((p) => isObj(p) && p.in === 'path' && p.name === name)) problem(where, `path parameter ${name} is not declared`);

      if ('requestBody' in op) {
        const body = deref(op.requestBody);
        if (!isObj(body)) problem(where, 'requestBody is not a Request Body Object');
        else checkContent(body.content, `${where} requestBody.content`);
      }

      if (!isObj(op.responses) || Object.keys(op.responses).length === 0) {
        problem(where, 'responses is required and not empty');
        continue;
      }
      for (const [status, raw] of Object.entries(op.responses)) {
        if (!STATUS_KEY.test(status)) problem(`${where} ${status}`, 'response keys are status codes, nXX or default');
        const response = deref(raw);
        if (!isObj(response) || typeof response.description !== 'string') problem(`${where} ${status}`, 'a response needs a description');
        else if ('content' in response) checkContent(response.content, `${where} ${status}.content`);
      }
    }
  }
  return problems;
}
