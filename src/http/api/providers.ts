/**
 * The shared breaker and failover over HTTP, for dispatchers outside Node (the Python client):
 * choose a provider for one call with the guarded workers' own single Redis call, and record
 * the calls' outcomes for the rate rules.
 */
import { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import { slowThresholds, type ProviderOutcomes } from '../../domain/outcomes.js';
import { MAX_CANDIDATES, namedProviders, PROVIDER_NAME } from '../../domain/rules.js';
import { route, zodBody } from './route.js';

const provider = z.string().regex(PROVIDER_NAME, `a provider name must match ${PROVIDER_NAME}`);

export const chooseBody = z
  .strictObject({
    queue: z
      .string()
      .min(1)
      .meta({ description: 'a dispatch queue (CALLGUARD_QUEUES): its holds apply', examples: ['calls'] }),
    providers: z
      .array(provider)
      .min(1)
      .max(MAX_CANDIDATES)
      .refine((p) => new Set(p).size === p.length, 'providers must be distinct')
      .meta({ description: 'candidates, most preferred first', examples: [['twilio', 'plivo']] }),
  })
  .meta({ id: 'ChooseProvider' });

export const chooseViewSchema = z
  .object({
    provider: z.string().nullable().meta({ description: 'the provider to call now (its slot is taken); null: none may be called now' }),
    wait_ms: z.number().int().min(0).meta({
      description:
        'with provider null: ask again after this long (0 while the queue or every candidate is held: ask again later, e.g. in a second)',
    }),
    held: z.array(z.string()).meta({ description: 'the candidates held now' }),
    queue_held: z.boolean().meta({ description: 'the whole queue is held' }),
  })
  .meta({ id: 'ProviderChoice' });

const MAX_CALLS = 1000;
export const outcomesBody = z
  .strictObject({
    calls: z
      .array(z.strictObject({ provider, ok: z.boolean(), duration_ms: z.number().min(0).max(86_400_000) }))
      .min(1)
      .max(MAX_CALLS),
  })
  .meta({ id: 'CallOutcomes' });

export const reportedProvidersSchema = z
  .object({
    reported: z.array(z.string()).meta({ description: 'providers guarded workers or POST /providers/outcomes have reported calls for' }),
    unreported: z.array(z.string()).meta({
      description:
        'providers the rules in force name (in a rule or the providers section) that nobody has reported: a misspelt name counts nothing',
    }),
  })
  .meta({ id: 'ReportedProviders' });

export const providerRoutes = [
  route({
    method: 'get',
    path: '/health/providers',
    operationId: 'getReportedProviders',
    tag: 'admin',
    summary: 'Which providers report outcomes',
    description:
      'The provider names outcomes have been counted for, and those the rules in force name that nobody has reported. `callguard check-rules` asks this to warn about a misspelt provider.',
    access: { roles: ['viewer'] },
    responses: { 200: { description: 'Reported and unreported providers.', schema: reportedProvidersSchema } },
  }).handle(async ({ deps }) => {
    const reported = await deps.rules.reportedProviders();
    const named = new Set(namedProviders(deps.ingest.rules, deps.ingest.capacities).map((n) => n.provider));
    return { status: 200 as const, json: { reported, unreported: [...named].filter((p) => !reported.includes(p)).sort() } };
  }),
  route({
    method: 'post',
    path: '/providers/choose',
    operationId: 'chooseProvider',
    tag: 'ingest',
    summary: 'Choose the provider for one call (failover)',
    description:
      'The first candidate that is not held and has room under its probe, throttle and capacity, in one Redis step shared with every guarded worker; its slot is taken, so place the call.',
    access: { roles: ['alerts'] },
    body: zodBody(chooseBody),
    responses: { 200: { description: 'The provider, or null with how long to wait.', schema: chooseViewSchema } },
  }).handle(async ({ deps, body }) => {
    if (!deps.ingest.queues.includes(body.queue)) {
      throw new ValidationError(`queue: ${body.queue} is not in CALLGUARD_QUEUES (${deps.ingest.queues.join(', ')})`);
    }
    const a = await deps.ingest.chooseProvider(body.queue, body.providers);
    return {
      status: 200 as const,
      json: { provider: a.provider ?? null, wait_ms: Math.ceil(a.waitMs), held: a.held, queue_held: a.queueHeld },
    };
  }),
  route({
    method: 'post',
    path: '/providers/outcomes',
    operationId: 'postOutcomes',
    tag: 'ingest',
    summary: 'Record calls’ outcomes for the rate rules',
    description: 'Each call: its provider, whether it succeeded and how long it took; counted per rule like a guarded worker’s.',
    access: { roles: ['alerts'] },
    body: zodBody(outcomesBody),
    responses: {
      202: {
        description: 'Accepted: one job on the events queue.',
        schema: z.object({ job_id: z.string().nullable(), calls: z.number().int() }),
      },
    },
  }).handle(async ({ deps, body }) => {
    const outcomes: Record<string, ProviderOutcomes> = {};
    for (const c of body.calls) {
      const o = (outcomes[c.provider] ??= { calls: 0, failures: 0 });
      o.calls++;
      if (!c.ok) o.failures++;
      for (const ms of slowThresholds(deps.ingest.rules, c.provider)) {
        if (c.duration_ms >= ms) (o.slow ??= {})[String(ms)] = (o.slow?.[String(ms)] ?? 0) + 1;
      }
    }
    return { status: 202 as const, json: { job_id: await deps.ingest.reportOutcomes(outcomes), calls: body.calls.length } };
  }),
];
