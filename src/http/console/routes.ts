import { readFileSync } from 'node:fs';
import { Router, type Response } from 'express';
import type { ConsoleReads, HoldsPort } from '../api/ports.js';
import { requireRole } from '../middleware/require-role.js';
import { consoleActions } from './actions.js';
import { consolePage } from './page.js';
import { snapshot } from './snapshot.js';
import { render } from './view.js';

const asset = (file: string) => readFileSync(new URL(`./public/${file}`, import.meta.url));
const ASSETS = { js: asset('console.js'), css: asset('console.css') };

/** Served with a validator: browsers revalidate each load and get 304 while the file is unchanged. */
const sendAsset = (res: Response, type: string, body: Buffer) => res.type(type).set('Cache-Control', 'no-cache').send(body);

/**
 * The operator console under /admin (mounted after the session and login middleware): the page,
 * its script and stylesheet, the live view and the actions. Viewers read; admins act.
 */
export function consoleRoutes(reads: ConsoleReads, holds: HoldsPort): Router {
  const router = Router();
  router.get('/console.js', (_req, res) => sendAsset(res, 'text/javascript', ASSETS.js));
  router.get('/console.css', (_req, res) => sendAsset(res, 'text/css', ASSETS.css));

  router.get(
    '/',
    (req, res, next) => (req.user ? next() : res.redirect(302, '/admin/login')),
    requireRole('viewer'),
    async (req, res) => {
      const who = req.user!;
      res
        .type('html')
        .set('Cache-Control', 'no-store')
        .send(consolePage(who, render(await snapshot(reads), who.role === 'admin'), [...reads.queues]));
    },
  );

  router.get('/api/view', requireRole('viewer'), async (req, res) => {
    res.set('Cache-Control', 'no-cache').json(render(await snapshot(reads), req.user!.role === 'admin'));
  });

  router.use(consoleActions(holds));
  return router;
}
