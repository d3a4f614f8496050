/** Shapes shared across callguard's modules. Keep this file free of I/O. */

import type { Scope } from './hold.js';

// The hold union and its helpers live in hold.ts; re-exported for modules that read only types.
export type { Hold, HoldEffect, HoldKind, Scope } from './hold.js';

export interface Rule {
  name: string;
  thresholdCount: number;
  windowMinutes: number;
  logPatterns: string[];
  /** Dispatch queues this rule pauses. */
  queues: Scope;
  /** Lowest pino level (numeric) the log sink matches for this rule. */
  minLevel: number;
  /** `shadow`: evaluated and recorded as "would have paused", never pausing. */
  mode?: 'enforce' | 'shadow';
  /** Half-open resume: run at most maxPerMinute jobs per minute for `minutes` before resuming fully. */
  probe?: { minutes: number; maxPerMinute: number };
}

/** Something that accepts error counts without blocking: the coalescing reporter. */
export interface ErrorSink {
  report(rule: string, count?: number): void;
}
