/** Shapes shared across callguard's modules. Keep this file free of I/O. */

import type { Scope } from './hold.js';

// The hold union and its helpers live in hold.ts; re-exported for modules that read only types.
export type { Hold, HoldEffect, HoldKind, Scope } from './hold.js';

export interface Rule {
  name: string;
  /** Trips at this many errors in the window; absent on a rule that trips on rates only. */
  thresholdCount?: number;
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
  /** Providers whose call outcomes this rule reads and whose jobs its hold covers (inside `queues`). */
  providers?: string[];
  /** Trips when failures / calls over the window reach this (0 < r ≤ 1), with at least minCalls calls. */
  failureRate?: number;
  /** A call slower than this is slow. */
  slowCallMs?: number;
  /** Trips when slow calls / calls over the window reach this, with at least minCalls calls. */
  slowCallRate?: number;
  /** Calls needed in the window before a rate means anything (set whenever a rate is). */
  minCalls?: number;
  /** A trip throttles to this many jobs per minute instead of stopping them. */
  onTrip?: { maxPerMinute: number };
}

/** Something that accepts error counts without blocking: the coalescing reporter. */
export interface ErrorSink {
  report(rule: string, count?: number): void;
}
