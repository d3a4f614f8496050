/**
 * The console's routes in the OpenAPI document (spread into its `paths`). Only $refs to the
 * document's shared components, so this moves unchanged into a route registry.
 */
import { z } from 'zod';
import { consoleResumeBody } from './schemas.js';

type Json = Record<string, unknown>;

const ref = (kind: 'schemas' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const json = (schema: Json) => ({ 'application/json': { schema } });
const text = (type: string) => ({ [type]: { schema: { type: 'string' } } });
const holds = { type: 'array', items: ref('schemas', 'Hold') };
const strings = { type: 'array', items: { type: 'string' } };
const session = [{ sessionCookie: [] }];
const errors = {
  '400': ref('responses', 'BadRequest'),
  '401': ref('responses', 'Unauthorized'),
  '403': { description: 'Not an admin, or a cross-site request (Origin not this host).', content: json(ref('schemas', 'Error')) },
  '413': ref('responses', 'PayloadTooLarge'),
  '415': ref('responses', 'UnsupportedMediaType'),
};

function resumeSchema(): Json {
  const out = z.toJSONSchema(consoleResumeBody, { io: 'input', unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

const asset = (file: string, type: string, summary: string): Json => ({
  get: {
    operationId: `get${file}`,
    tags: ['console'],
    summary,
    security: [],
    responses: { '200': { description: summary, content: text(type) } },
  },
});

export function consolePaths(): Record<string, Json> {
  return {
    '/admin': {
      get: {
        operationId: 'getConsole',
        tags: ['console'],
        summary: 'Operator console (HTML): rules, holds, timeline; pause and resume for admins',
        security: [...session, {}],
        responses: {
          '200': { description: 'The console page.', content: text('text/html') },
          '302': { description: 'Not signed in: to /admin/login.', headers: { Location: { schema: { type: 'string' } } } },
          '403': ref('responses', 'Forbidden'),
        },
      },
    },
    '/admin/console.js': asset('ConsoleScript', 'text/javascript', 'The console’s script'),
    '/admin/console.css': asset('ConsoleStyles', 'text/css', 'The console’s stylesheet'),
    '/admin/api/view': {
      get: {
        operationId: 'getConsoleView',
        tags: ['console'],
        summary: 'The console’s live regions, server-rendered (viewer or admin); polled every second',
        security: session,
        responses: {
          '200': {
            description: 'HTML fragments of each region.',
            content: json({
              type: 'object',
              required: ['rules', 'queues', 'holds', 'timeline'],
              properties: {
                rules: { type: 'string' },
                queues: { type: 'string' },
                holds: { type: 'string' },
                timeline: { type: 'string' },
              },
            }),
          },
          '401': ref('responses', 'Unauthorized'),
          '403': ref('responses', 'Forbidden'),
        },
      },
    },
    '/admin/api/pause': {
      post: {
        operationId: 'consolePause',
        tags: ['console'],
        summary: 'POST /health/pause for the signed-in admin (same body, answer and audit)',
        security: session,
        requestBody: { required: false, content: json(ref('schemas', 'PauseRequest')) },
        responses: {
          '200': {
            description: 'The hold placed.',
            content: json({
              type: 'object',
              required: ['status', 'paused_by', 'hold', 'newly_paused'],
              properties: {
                status: { const: 'paused' },
                paused_by: { type: 'string' },
                hold: ref('schemas', 'Hold'),
                newly_paused: strings,
              },
            }),
          },
          ...errors,
        },
      },
    },
    '/admin/api/resume': {
      post: {
        operationId: 'consoleResume',
        tags: ['console'],
        summary: 'POST /health/resume for the signed-in admin; `holds` releases exactly those holds',
        security: session,
        requestBody: { required: false, content: json(resumeSchema()) },
        responses: {
          '200': {
            description: 'The holds released.',
            content: json({
              type: 'object',
              required: ['status', 'resumed_by', 'released', 'newly_resumed'],
              properties: { status: { const: 'resumed' }, resumed_by: { type: 'string' }, released: holds, newly_resumed: strings },
            }),
          },
          ...errors,
          '404': {
            description: 'A hold in `holds` is not held (already released?); nothing was released.',
            content: json(ref('schemas', 'Error')),
          },
        },
      },
    },
  };
}
