/**
 * Response bodies of the JSON API. Each is written once: the present.ts functions return these
 * types, the OpenAPI document is generated from them and the CLI reads its answers as them.
 * `.meta({ id })` names a component of the document.
 */
import { z } from 'zod';
import { HOLD_CHANGE_EVENTS } from '../../store/holds.js';
import { ERROR_CODES } from '../middleware/errors.js';

const isoOrNull = z.iso.datetime().nullable();
const counts = z.record(z.string(), z.number().int().min(0));

/** The body of every error answer: server, CLI and OpenAPI read it from here. */
export const errorViewSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(ERROR_CODES as [string, ...string[]]).meta({ examples: ['invalid_request'] }),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error', description: 'Every error of the JSON API.' });
export type ErrorView = z.infer<typeof errorViewSchema>;

export const scopeViewSchema = z
  .union([z.literal('all'), z.array(z.string()).min(1)])
  .meta({ id: 'Scope', description: 'The dispatch queues a hold covers, or "all".' });

export const holdViewSchema = z
  .object({
    id: z.string().meta({ description: 'rule:<name>, alert:<source>:<id> or manual:<uuid>', examples: ['rule:twilio'] }),
    kind: z.enum(['rule', 'alert', 'manual']),
    effect: z
      .enum(['pause', 'shadow', 'probe', 'throttle'])
      .meta({ description: 'shadow holds pause nothing; probe and throttle holds let calls run at max_per_minute' }),
    scope: scopeViewSchema,
    providers: z.array(z.string()).optional().meta({
      description: 'Set: the hold covers only these providers’ jobs in its queues (guarded workers hold them back; the queues run).',
    }),
    by: z.string().meta({
      description:
        'callguard for rules, the sending principal for alerts (alert:<source> on holds from before principals were recorded), the principal for people',
    }),
    reason: z.string(),
    since: isoOrNull,
    until: isoOrNull,
    rule: z.string().nullable(),
    max_per_minute: z.number().int().optional(),
    alert_name: z.string().optional(),
    source: z.string().optional(),
    count: z.number().int().optional(),
    threshold: z.number().int().optional(),
    calls: z.number().int().optional().meta({ description: 'Rate rules: calls in the window when the rule tripped' }),
    failures: z.number().int().optional(),
    slow: z.number().int().optional(),
    window_minutes: z.number().int().optional(),
  })
  .meta({ id: 'Hold' });
export type HoldView = z.infer<typeof holdViewSchema>;

export const silenceViewSchema = z
  .object({
    id: z.string(),
    rules: z.array(z.string()),
    providers: z.array(z.string()).optional(),
    queues: z.array(z.string()).optional(),
    until: isoOrNull,
    reason: z.string(),
    by: z.string(),
    since: isoOrNull,
  })
  .meta({ id: 'Silence' });
export type SilenceView = z.infer<typeof silenceViewSchema>;

export const silencesViewSchema = z.object({ silences: z.array(silenceViewSchema) });

export const rulesChangeSchema = z
  .object({
    path: z.string().meta({ description: 'the changed value, e.g. twilio.threshold_count' }),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
  })
  .meta({ id: 'RulesChange' });

export const rulesVersionViewSchema = z
  .object({
    version: z.number().int(),
    hash: z.string().meta({ description: 'sha256 of the content with keys sorted' }),
    by: z.string().meta({ description: 'the principal, or "instance <host:pid:id>" for a booting instance' }),
    source: z.enum(['file', 'api', 'rollback', 'seed']),
    at: isoOrNull,
  })
  .meta({ id: 'RulesVersion' });

export const activeRulesViewSchema = rulesVersionViewSchema
  .extend({
    content: z.record(z.string(), z.unknown()).meta({ description: 'the rules, exactly as a rules file holds them' }),
    rules_source: z.enum(['file', 'redis']).meta({ description: 'CALLGUARD_RULES_SOURCE of the instance that answered' }),
  })
  .meta({ id: 'ActiveRules' });

export const rulesDiffViewSchema = z
  .object({
    version: z.number().int().meta({ description: 'the active version the proposal was compared with' }),
    changes: z.array(rulesChangeSchema),
    warnings: z.array(z.string()).meta({ description: 'patterns broad enough to cause false pauses (as logged at start-up)' }),
  })
  .meta({ id: 'RulesDiff' });

const replayEventSchema = z.object({
  event: z.enum(['placed', 'released']),
  effect: z.enum(['pause', 'shadow', 'probe', 'throttle']),
  at: isoOrNull.meta({ description: 'the start of the minute it happened in' }),
  reason: z.string(),
});

export const dryRunViewSchema = z
  .object({
    now: z.object({
      tripped: z.array(z.string()).meta({ description: 'rules that would be tripped now' }),
      place: z.array(z.string()).meta({ description: 'holds that would be placed now' }),
      release: z.array(z.string()).meta({ description: 'holds that would be released now' }),
    }),
    replay: z.object({
      from: isoOrNull,
      to: isoOrNull,
      minute_ms: z.number().int(),
      rules: z.record(
        z.string(),
        z.object({
          replayable: z.boolean(),
          reason: z.string().optional(),
          proposed: z.array(replayEventSchema).meta({ description: 'what the proposed rule would have done' }),
          actual: z.array(replayEventSchema).meta({ description: 'what the rules in force did (from the audit)' }),
        }),
      ),
    }),
  })
  .meta({ id: 'RulesDryRun' });

export type RulesVersionView = z.infer<typeof rulesVersionViewSchema>;
export type ActiveRulesView = z.infer<typeof activeRulesViewSchema>;
export type RulesDiffView = z.infer<typeof rulesDiffViewSchema>;
export type RulesDryRunView = z.infer<typeof dryRunViewSchema>;

export const rulesVersionsViewSchema = z.object({ versions: z.array(rulesVersionViewSchema) });

export const auditEntryViewSchema = z
  .object({
    id: z.string(),
    event: z.string().meta({ examples: [...HOLD_CHANGE_EVENTS, 'drift-repaired', 'state-lost'] }),
    hold: z.string().nullable(),
    kind: z.string().nullable(),
    by: z.string(),
    reason: z.string(),
    paused: z.array(z.string()),
    resumed: z.array(z.string()),
    at: isoOrNull,
    detail: holdViewSchema.nullable(),
    rules_version: z.number().int().optional().meta({ description: 'the rules version in force when the change was decided' }),
    changes: z.array(rulesChangeSchema).optional().meta({ description: 'rules-published: what the new version changed' }),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntryView = z.infer<typeof auditEntryViewSchema>;

export const auditViewSchema = z.object({ entries: z.array(auditEntryViewSchema) });
export type AuditView = z.infer<typeof auditViewSchema>;

export const serviceStatusViewSchema = z
  .object({
    is_paused: z.boolean(),
    pause_reason: z.string().nullable(),
    paused_by: z.string().nullable(),
    paused_at: isoOrNull,
    source_rule: z.string().nullable(),
    rules: z.record(
      z.string(),
      z.object({
        error_count: z.number().int(),
        threshold: z.number().int().nullable().meta({ description: 'null: the rule trips on rates only' }),
        window_minutes: z.number().int(),
        queues: scopeViewSchema,
        clear_since: isoOrNull,
        providers: z.array(z.string()).optional(),
        failure_rate: z.number().optional(),
        slow_call_ms: z.number().int().optional(),
        slow_call_rate: z.number().optional(),
        min_calls: z.number().int().optional(),
        calls: z.number().int().optional().meta({ description: 'Calls of the rule’s providers in the window' }),
        failed_calls: z.number().int().optional(),
        slow_calls: z.number().int().optional(),
      }),
    ),
    holds: z.array(holdViewSchema),
    failover: z
      .array(
        z.object({
          queue: z.string(),
          provider: z.string(),
          goes_to: z.array(z.string()).meta({ description: 'the candidates after it that jobs listed; empty: its jobs wait (parked)' }),
          failed_over: z.number().int().meta({ description: 'its jobs that ran on another candidate since the hold began' }),
        }),
      )
      .meta({ description: 'each held provider (per queue): where its jobs go meanwhile' }),
    queues: z.record(z.string(), z.object({ paused: z.boolean(), held: z.boolean(), counts })),
    events_queue: z.object({ counts }),
    auto_pause: z.enum(['on', 'shadow', 'off']),
    silences: z.array(silenceViewSchema).meta({ description: 'silences in force: their rules place no hold (counting goes on)' }),
    rules_version: z.number().int().meta({ description: 'the rules version this instance evaluates (GET /health/rules)' }),
    now: isoOrNull,
    snapshot_age_ms: z.number().int().meta({
      description:
        'how old this status is: requests close together share one read (at most 250 ms old, counted from when the read began; a hold change refreshes it at once)',
    }),
  })
  .meta({
    id: 'ServiceStatus',
    description:
      'The first five fields describe one pause (whether, why, by whom, since when, which rule), taken from the oldest hold that pauses; holds lists every cause.',
  });
export type ServiceStatusView = z.infer<typeof serviceStatusViewSchema>;

export const pauseViewSchema = z.object({
  status: z.literal('paused'),
  paused_by: z.string(),
  hold: holdViewSchema,
  newly_paused: z.array(z.string()),
});
export type PauseView = z.infer<typeof pauseViewSchema>;

export const resumeViewSchema = z.object({
  status: z.literal('resumed'),
  resumed_by: z.string(),
  released: z.array(holdViewSchema),
  newly_resumed: z.array(z.string()),
});
export type ResumeView = z.infer<typeof resumeViewSchema>;

const jobId = z.string().nullable();

export const alertAcceptedViewSchema = z.object({
  job_id: jobId,
  alerts: z.array(z.object({ hold: z.string(), status: z.enum(['firing', 'resolved']), name: z.string() })),
  rejected: z
    .array(z.object({ index: z.number().int(), error: z.string() }))
    .meta({ description: 'Alerts of the group left out, by 0-based index in alerts; the others took effect.' }),
});

export const errorsAcceptedViewSchema = z.object({ job_id: jobId, counts });

export const logsAcceptedViewSchema = z.object({
  records: z.number().int(),
  matched: z.number().int(),
  dropped: z.number().int().meta({ description: 'records whose shape or level could not be read (never guessed)' }),
  drops: z
    .array(z.object({ index: z.number().int(), reason: z.string() }))
    .meta({ description: 'the first 10 dropped records: index in the batch (from 0) and why' }),
  counts,
  job_id: jobId.meta({ description: 'null when nothing matched' }),
});

export const livenessViewSchema = z.object({ status: z.literal('ok') });

export const readinessViewSchema = (status: 'ready' | 'not ready') =>
  z.object({
    status: z.literal(status),
    checks: z.object({ redis: z.boolean(), evaluator: z.boolean() }),
    rules: z
      .object({ version: z.number().int(), source: z.enum(['file', 'redis']), file_differs: z.boolean() })
      .optional()
      .meta({
        description:
          "the rules version in force; file_differs: this instance's rules file is not the active version (it follows the active one)",
      }),
  });

export const slackReplyViewSchema = z.object({ response_type: z.literal('ephemeral'), replace_original: z.boolean(), text: z.string() });
