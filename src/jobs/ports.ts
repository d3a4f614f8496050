/** The narrow parts of the engine and store that job handlers use. */
import type { Counted } from '../domain/outcomes.js';
import type { Control } from '../engine/control.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { JobSigner } from './job-signer.js';
import type { Rule } from '../domain/types.js';

/**
 * Adds one report's counts, all rules or none; a report id counted before adds nothing
 * (`counted` false). `sums` are the windows' totals after adding, in the order given.
 */
export interface CountingPort {
  recordReport(entries: Array<[Counted, number]>, id: string): Promise<{ counted: boolean; sums: number[] }>;
  /** Remembers which providers report outcomes (check-rules warns about rules naming others). */
  noteProviders(providers: string[]): Promise<void>;
}

/** Runs an evaluation now: of a few rules right after counting, or the full scheduled tick. */
export interface EvaluationPort {
  evaluate(opts: { rules?: Rule[]; full: boolean }): Promise<{ changes: HoldChange[] }>;
}

/** How job handlers place and release holds: for alerts, and by id for Slack's Resume (HTTP has its own HoldsPort). */
export type JobHoldsPort = Pick<Control, 'addAlertHold' | 'releaseIds'>;

/** Reads who holds what (alerts behind the overflow hold included), and records refusals in the audit, for handlers that decide per principal. */
export type AuditPort = Pick<HoldLedger, 'list' | 'appendAudit' | 'overflowMember' | 'now'>;

/** Checks that a job's principal is vouched for by its signature (see JobSigner). */
export type JobVerifier = Pick<JobSigner, 'verify'>;
