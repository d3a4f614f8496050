import { z } from 'zod';
import { route } from './route.js';
import { livenessViewSchema, readinessViewSchema } from './views.js';

/** Probes, metrics and the document: what an orchestrator, Prometheus and client generators call. */
export function opsRoutes(opts: { metricsPublic: boolean }) {
  return [
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'getMetrics',
      tag: 'ops',
      summary: 'Prometheus metrics',
      description: `prom-client text format. ${opts.metricsPublic ? 'Public: CALLGUARD_METRICS_PUBLIC=true.' : 'Set CALLGUARD_METRICS_PUBLIC=true to let scrapers in without a token.'}`,
      access: opts.metricsPublic ? 'public' : { roles: ['viewer'] },
      responses: { 200: { description: 'Metrics.', media: 'text/plain' } },
    }).handle(async ({ deps }) => {
      const { contentType, text } = await deps.ops.metrics();
      return { status: 200, media: contentType, text };
    }),
    // Liveness says only that the process serves HTTP; nothing about Redis or internals.
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'getLiveness',
      tag: 'ops',
      summary: 'Liveness: the process serves HTTP',
      access: 'public',
      responses: { 200: { description: 'Alive.', schema: livenessViewSchema } },
    }).handle(async () => ({ status: 200, json: { status: 'ok' } })),
    route({
      method: 'get',
      path: '/readyz',
      operationId: 'getReadiness',
      tag: 'ops',
      summary: 'Readiness: Redis answers and the evaluator schedule is on time',
      access: 'public',
      responses: {
        200: { description: 'Ready.', schema: readinessViewSchema('ready') },
        503: { description: 'Not ready; checks says what failed.', schema: readinessViewSchema('not ready') },
      },
    }).handle(async ({ deps }) => {
      const { ready, checks, rules } = await deps.ops.readiness();
      const detail = rules ? { rules } : {};
      return ready
        ? { status: 200, json: { status: 'ready', checks, ...detail } }
        : { status: 503, json: { status: 'not ready', checks, ...detail } };
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApi',
      tag: 'ops',
      summary: 'This document',
      description: 'Public: it describes routes and roles, never secrets.',
      access: 'public',
      responses: { 200: { description: 'OpenAPI 3.1 document.', schema: z.looseObject({}) } },
    }).handle(async ({ deps }) => ({ status: 200, json: deps.document() as Record<string, unknown> })),
  ];
}
