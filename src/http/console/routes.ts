import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { route } from '../api/route.js';
import { consoleActions } from './actions.js';
import { consolePage } from './page.js';
import { snapshot } from './snapshot.js';
import { render, viewSchema } from './view.js';

const asset = (file: string) => readFileSync(new URL(`./public/${file}`, import.meta.url));

/** Served with a validator: browsers revalidate each load and get 304 while the file is unchanged. */
const assetRoute = (file: string, media: string, name: string, summary: string) => {
  const body = asset(file);
  // Hashed once here: the app hashes no reply itself (app.ts), which cost every API request a SHA-1 of its body.
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return route({
    method: 'get',
    path: `/admin/${file}`,
    operationId: `get${name}`,
    tag: 'console',
    summary,
    access: 'public',
    responses: {
      200: { description: summary, media, headers: { ETag: 'The file’s hash: send it back as If-None-Match.' } },
      304: { description: 'Not modified: the If-None-Match is the file’s ETag.' },
    },
  }).handle(async () => ({ status: 200, media, text: body, headers: { 'Cache-Control': 'no-cache', ETag: etag } }));
};

/** The operator console under /admin: the page, its script and stylesheet, the live view and the actions. Viewers read; admins act. */
export const consoleRoutes = [
  route({
    method: 'get',
    path: '/admin',
    operationId: 'getConsole',
    tag: 'console',
    summary: 'Operator console (HTML): rules, holds, timeline; pause and resume for admins',
    access: { session: ['viewer'], signIn: '/admin/login' },
    responses: {
      200: { description: 'The console page.', media: 'text/html' },
      302: { description: 'Not signed in: to /admin/login.', headers: { Location: 'The sign-in form.' } },
    },
  }).handle(async ({ deps, user }) => {
    const who = user!;
    const view = render(await snapshot(deps.console), who.role === 'admin');
    return {
      status: 200,
      media: 'text/html',
      text: consolePage(who, view, [...deps.console.queues]),
      headers: { 'Cache-Control': 'no-store' },
    };
  }),
  assetRoute('console.js', 'text/javascript', 'ConsoleScript', 'The console’s script'),
  assetRoute('console.css', 'text/css', 'ConsoleStyles', 'The console’s stylesheet'),
  route({
    method: 'get',
    path: '/admin/api/view',
    operationId: 'getConsoleView',
    tag: 'console',
    summary: 'The console’s live regions, server-rendered (viewer or admin); polled every second',
    access: { session: ['viewer'] },
    responses: { 200: { description: 'HTML fragments of each region.', schema: viewSchema } },
  }).handle(async ({ deps, user }) => ({
    status: 200,
    json: render(await snapshot(deps.console), user!.role === 'admin'),
    headers: { 'Cache-Control': 'no-cache' },
  })),
  ...consoleActions,
];
