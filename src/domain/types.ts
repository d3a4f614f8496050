/** Shapes shared across callguard's modules. Keep this file free of I/O. */

export type HoldKind = 'rule' | 'alert' | 'manual';

/**
 * What a hold does to the queues it covers: `pause` (the default), `shadow` (nothing — it only
 * records that the rule would have paused) or `probe` (half-open: the queues run under a global
 * rate limit while the provider is tested).
 */
export type HoldEffect = 'pause' | 'shadow' | 'probe';

/** A hold's scope: the dispatch queues it pauses, or every configured dispatch queue. */
export type Scope = string[] | 'all';

/**
 * One cause of a pause. A dispatch queue is paused exactly when at least one hold covers it.
 * ids: `rule:<name>`, `alert:<source>:<fingerprint>`, `manual:<random>`.
 */
export interface Hold {
  id: string;
  kind: HoldKind;
  scope: Scope;
  /** Who placed it: `callguard` for rules, `alert:<source>` for alerts, the principal's name for people. */
  by: string;
  reason: string;
  /** ms since epoch (Redis clock). */
  since: number;
  /** ms since epoch; a manual hold is released automatically when this passes; a probe ends then. */
  until?: number;
  /** Absent means `pause`. */
  effect?: HoldEffect;
  /** For probe holds: jobs per minute the covered queues may run. */
  maxPerMinute?: number;
  /** Rule name for rule holds, or the rule an alert named. */
  rule?: string;
  /** Snapshot of the count that tripped a rule hold. */
  count?: number;
  threshold?: number;
  windowMinutes?: number;
  /** A rule hold placed because the rule tripped again during a half-open probe. */
  afterProbe?: boolean;
  /** Alert name / source for alert holds. */
  alertName?: string;
  source?: string;
}

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
