import { z } from 'zod';
import { PROVIDER_NAME } from '../../domain/rules.js';
import { MAX_SILENCES } from '../../domain/silence.js';
import { validate } from '../middleware/validate.js';
import { silenceView } from './present.js';
import { route, zodBody } from './route.js';
import { errorViewSchema, silenceViewSchema, silencesViewSchema } from './views.js';

const names = (what: string) => z.array(z.string().min(1).max(64)).max(100).meta({ description: what });

const silenceBody = z
  .strictObject({
    rules: names('Rules to silence, by name (may be empty when providers or queues are given).'),
    providers: z
      .array(z.string().regex(PROVIDER_NAME, `a provider name (${PROVIDER_NAME})`))
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Also silence every rule reading one of these providers.' }),
    queues: names('Also silence every rule pausing one of these dispatch queues.').min(1).optional(),
    until: z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 time, in the future (at most 30 days): the silence ends then.' }),
    reason: z.string().trim().min(1, 'say why (it is shown in the status, the audit and Slack)').max(1000),
  })
  .refine((b) => b.rules.length > 0 || b.providers !== undefined || b.queues !== undefined, {
    message: 'name at least one rule, provider or queue',
    path: ['rules'],
  })
  .meta({ id: 'SilenceRequest' });

const idParams = z.object({ id: z.string().min(1).max(100) });

/** Silences: viewers list them; admins place and end them. */
export const silenceRoutes = [
  route({
    method: 'get',
    path: '/health/silences',
    operationId: 'getSilences',
    tag: 'admin',
    summary: 'Silences in force, soonest ending first',
    access: { roles: ['viewer'] },
    responses: { 200: { description: 'Silences.', schema: silencesViewSchema } },
  }).handle(async ({ deps }) => ({ status: 200, json: { silences: (await deps.silences.list()).map(silenceView) } })),
  route({
    method: 'post',
    path: '/health/silences',
    operationId: 'addSilence',
    tag: 'admin',
    summary: 'Silence rules until a time',
    description:
      'Errors are still counted and rules still evaluated, but a silenced rule places no hold, and a hold it has is ' +
      `released now. When the silence ends, a rule still over threshold trips at the next evaluation. At most ${MAX_SILENCES} at once; ` +
      'audited and announced on Slack.',
    access: { roles: ['admin'] },
    body: zodBody(silenceBody),
    responses: { 201: { description: 'The silence placed.', schema: silenceViewSchema } },
  }).handle(async ({ deps, body, user }) => {
    const s = await deps.silences.add({ ...body, until: Date.parse(body.until), by: user!.name });
    return { status: 201, json: silenceView(s) };
  }),
  route({
    method: 'delete',
    path: '/health/silences/:id',
    operationId: 'endSilence',
    tag: 'admin',
    summary: 'End a silence early',
    access: { roles: ['admin'] },
    params: idParams,
    responses: {
      200: { description: 'The silence ended.', schema: silenceViewSchema },
      404: { description: 'No silence by that id is in force; nothing changed.', schema: errorViewSchema },
    },
  }).handle(async ({ deps, req, user }) => {
    const { id } = validate(idParams, req.params, 'path');
    return { status: 200, json: silenceView(await deps.silences.end(id, user!.name)) };
  }),
];
