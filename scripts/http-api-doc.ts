/**
 * The route reference in docs/http-api.md, generated from the OpenAPI document (GET /openapi.json)
 * so the two cannot drift: `npm run docs:api` rewrites the part between the markers, and
 * test/docs.test.ts fails when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { openApiDocument } from '../src/http/api/openapi.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export const PAGE = 'docs/http-api.md';
export const BEGIN = '<!-- generated from GET /openapi.json by `npm run docs:api`: do not edit below -->';
export const END = '<!-- end of the generated reference -->';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const resolve = (doc: Obj, node: Obj | undefined): Obj | undefined => {
  if (!node?.$ref) return node;
  return (node.$ref as string)
    .slice(2)
    .split('/')
    .reduce<Obj>((o, k) => o[k] as Obj, doc);
};

function typeOf(doc: Obj, schema: Obj | undefined): string {
  const s = resolve(doc, schema);
  if (!s) return '';
  if (schema?.$ref) return (schema.$ref as string).split('/').at(-1)!;
  if (s.enum) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.type === 'array') return `${typeOf(doc, s.items as Obj)}[]`;
  if (s.anyOf || s.oneOf) return ((s.anyOf ?? s.oneOf) as Obj[]).map((x) => typeOf(doc, x)).join(' \\| ');
  return String(s.type ?? (s.format ? s.format : 'any'));
}

function who(op: Obj): string {
  const roles = op['x-callguard-roles'] as string[] | undefined;
  const schemes = ((op.security ?? []) as Obj[]).flatMap((s) => Object.keys(s));
  if (roles) return roles.join(', ') + (schemes.length > 1 ? ` (or ${schemes.filter((s) => s !== 'bearerAuth').join(', ')})` : '');
  if (schemes.includes('sessionCookie')) return 'signed-in session';
  if (schemes.length) return schemes.join(', ');
  return 'anyone';
}

function fields(doc: Obj, schema: Obj | undefined): string[] {
  const s = resolve(doc, schema);
  const variants = (s?.anyOf ?? s?.oneOf) as Obj[] | undefined;
  if (variants) return variants.flatMap((v) => [`- one of: \`${typeOf(doc, v)}\``]);
  if (!s?.properties) return s ? [`- \`${typeOf(doc, schema)}\``] : [];
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(s.properties as Obj).map(
    ([name, p]) =>
      `- \`${name}\`${required.has(name) ? '' : '?'}: ${typeOf(doc, p as Obj)}${(resolve(doc, p as Obj)?.description as string | undefined) ? ` — ${resolve(doc, p as Obj)!.description}` : ''}`,
  );
}

/** The generated part of docs/http-api.md: the routes table, then one section per route. */
export function httpApiReference(doc: Obj = openApiDocument()): string {
  const ops = Object.entries(doc.paths as Obj).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Obj)[m]).map((m) => ({ method: m.toUpperCase(), path, op: (item as Obj)[m] as Obj })),
  );
  const out = ['| Method and path | Who | What |', '|---|---|---|'];
  for (const { method, path, op } of ops) out.push(`| \`${method} ${path}\` | ${cell(who(op))} | ${cell(op.summary as string)} |`);
  for (const { method, path, op } of ops) {
    out.push('', `### \`${method} ${path}\``, '', `${op.summary as string}.${op.description ? ` ${op.description as string}` : ''}`, '');
    out.push(`Who: ${who(op)}.`);
    const params = (op.parameters ?? []) as Obj[];
    if (params.length) {
      out.push('', 'Parameters:');
      for (const p of params)
        out.push(
          `- \`${p.name as string}\` (${p.in as string}${p.required ? ', required' : ''}): ${typeOf(doc, p.schema as Obj)}${p.description ? ` — ${p.description as string}` : ''}`,
        );
    }
    const body = op.requestBody as Obj | undefined;
    if (body) {
      const types = Object.keys(body.content as Obj);
      out.push('', `Body (${types.map((t) => `\`${t}\``).join(', ')}${body.required ? '' : ', optional'}):`);
      out.push(...fields(doc, ((body.content as Obj)[types[0]!] as Obj).schema as Obj));
    }
    out.push('', 'Answers:');
    for (const [status, r] of Object.entries(op.responses as Obj))
      out.push(`- ${status}: ${cell(resolve(doc, r as Obj)?.description as string | undefined)}`);
  }
  return out.join('\n');
}

/** The page with its generated part replaced by the current reference. */
export function renderPage(page: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${PAGE}: the markers of the generated reference are missing`);
  return `${page.slice(0, start + BEGIN.length)}\n\n${httpApiReference()}\n\n${page.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(PAGE, renderPage(readFileSync(PAGE, 'utf8')));
  console.log(`${PAGE}: route reference regenerated from the OpenAPI document`);
}
