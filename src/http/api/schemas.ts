/** Request bodies and queries of the admin and ingest routes. Unknown fields are refused: a typo such as
 * `queue` for `queues` would otherwise widen a pause to every queue. */
import { z } from 'zod';
import { LEVEL_SCALES } from '../../domain/log-record.js';
import { PROVIDER_NAME } from '../../domain/rules.js';
import { ruleCountSchema } from '../../jobs/contract.js';

const queueList = z
  .array(z.string().min(1).max(200))
  .min(1, 'omit queues to mean every dispatch queue; an empty list is ambiguous')
  .max(100);

const ignored = z.unknown().optional().meta({ description: 'Accepted and ignored: the actor is always the authenticated principal.' });

export const pauseBody = z
  .strictObject({
    reason: z.string().trim().max(1000).optional().meta({ description: 'Shown in the status, the audit and Slack.' }),
    queues: queueList.optional().meta({ description: 'Dispatch queues to pause; omitted: every dispatch queue.' }),
    providers: z
      .array(z.string().regex(PROVIDER_NAME, `a provider name (${PROVIDER_NAME})`))
      .min(1, 'omit providers to hold whole queues; an empty list is ambiguous')
      .max(100)
      .optional()
      .meta({
        description:
          'Hold only these providers’ jobs in the queues (guarded workers with a provider function park them); the queues keep running.',
      }),
    until: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'ISO 8601 time, in the future; the hold is lifted automatically then.' }),
    // The original API took the actor from the body; still accepted so old callers work, never used.
    paused_by: ignored,
  })
  .meta({ id: 'PauseRequest' });

export const resumeBody = z
  .strictObject({
    queues: queueList.optional().meta({ description: 'Release every hold covering these queues; omitted: every hold.' }),
    reason: z.string().trim().max(1000).optional(),
    resumed_by: ignored,
  })
  .meta({ id: 'ResumeRequest' });

export const errorsBody = z.union([ruleCountSchema, z.array(ruleCountSchema).min(1).max(1000)]).meta({ id: 'ErrorReports' });

export const logsQuery = z.object({
  level_scale: z.enum(LEVEL_SCALES).default('pino'),
});

export const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
