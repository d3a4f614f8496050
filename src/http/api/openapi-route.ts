import { Router } from 'express';
import { openApiDocument, type OpenApiOptions } from './openapi.js';

/** GET /openapi.json, unauthenticated: the document names routes and roles, never secrets. */
export function openApiRoutes(opts: OpenApiOptions = {}): Router {
  const router = Router();
  const body = JSON.stringify(openApiDocument(opts));
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  return router;
}
