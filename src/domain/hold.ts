/**
 * The hold: one cause of a pause. A dispatch queue is paused exactly when at least one pausing
 * hold covers it. Ids: `rule:<name>`, `alert:<source>:<fingerprint>`, `manual:<random>`.
 * The JSON stored in Redis is exactly these objects; keep field names stable.
 */
import { randomUUID } from 'node:crypto';

export type HoldKind = 'rule' | 'alert' | 'manual';

/**
 * What a hold does to what it covers: `pause` (the default), `shadow` (nothing — it only records
 * that the rule would have paused), `probe` (half-open: a rate limit while the provider is
 * tested) or `throttle` (a rule's `on_trip` rate instead of a stop). Only rule holds carry an effect.
 */
export type HoldEffect = 'pause' | 'shadow' | 'probe' | 'throttle';

/** A hold's scope: the dispatch queues it pauses, or every configured dispatch queue. */
export type Scope = string[] | 'all';

interface HoldBase {
  id: string;
  scope: Scope;
  /**
   * Set: the hold covers only these providers' jobs inside its queues (guarded workers hold them
   * back; the queues keep running). Absent: the whole queues.
   */
  providers?: string[];
  /** Who placed it: `callguard` for rules, the sending principal for alerts (`alert:<source>` on older holds), the principal's name for people. */
  by: string;
  reason: string;
  /** ms since epoch (Redis clock). */
  since: number;
  /** ms since epoch: a manual hold is released when this passes; a probe ends then. */
  until?: number;
}

/** Placed and lifted by decide() for one rule. */
export interface RuleHold extends HoldBase {
  kind: 'rule';
  rule: string;
  /** Absent means `pause`. */
  effect?: HoldEffect;
  /** For probe and throttle holds: jobs per minute what it covers may run. */
  maxPerMinute?: number;
  /** Snapshot of the count that tripped the rule (absent on probe holds). */
  count?: number;
  threshold?: number;
  /** Snapshot of the outcomes that tripped a rate rule. */
  calls?: number;
  failures?: number;
  slow?: number;
  windowMinutes?: number;
  /** Placed because the rule tripped again during a half-open probe. */
  afterProbe?: boolean;
}

/** Placed by a firing alert, lifted by its resolved notice. */
export interface AlertHold extends HoldBase {
  kind: 'alert';
  source?: string;
  alertName?: string;
  /** The rule the alert named, if any. */
  rule?: string;
}

/** Placed by a person; lifted by a person or when `until` passes. */
export interface ManualHold extends HoldBase {
  kind: 'manual';
}

export type Hold = RuleHold | AlertHold | ManualHold;

type WithoutSince<H> = H extends Hold ? Omit<H, 'since'> : never;
/** A hold about to be placed; the ledger stamps `since` with Redis' clock. */
export type NewHold = WithoutSince<Hold>;

/** A hold without an effect pauses; only rule holds shadow or probe. */
export function effectOf(hold: Hold | NewHold): HoldEffect {
  return (hold.kind === 'rule' && hold.effect) || 'pause';
}

export function isPausing(hold: Hold | NewHold): boolean {
  return effectOf(hold) === 'pause';
}

/** Probe and throttle holds let work through at a rate. */
export function isRateLimiting(hold: Hold | NewHold): boolean {
  const effect = effectOf(hold);
  return effect === 'probe' || effect === 'throttle';
}

/** Does this hold pause the whole queue (not only some providers' jobs in it)? */
export function pausesQueue(hold: Hold | NewHold, queue: string): boolean {
  return isPausing(hold) && !hold.providers?.length && covers(hold, queue);
}

/**
 * What a hold covers, as targets: `queue` for a whole queue, `queue:provider` for one provider's
 * jobs in it (queue names cannot contain ':').
 */
export function targetsOf(hold: Hold | NewHold, configured: string[]): string[] {
  const queues = queuesOf(hold.scope, configured);
  return hold.providers?.length ? queues.flatMap((q) => hold.providers!.map((p) => providerTarget(q, p))) : queues;
}

export function providerTarget(queue: string, provider: string): string {
  return `${queue}:${provider}`;
}

/** `calls:twilio` → { queue: 'calls', provider: 'twilio' }; a plain queue name has no provider. */
export function parseTarget(target: string): { queue: string; provider?: string } {
  const i = target.indexOf(':');
  return i < 0 ? { queue: target } : { queue: target.slice(0, i), provider: target.slice(i + 1) };
}

/** The rule a hold names: its own rule, or the rule an alert named. */
export function ruleOf(hold: Hold): string | undefined {
  return hold.kind === 'manual' ? undefined : hold.rule;
}

/** Does this scope (or hold) cover the dispatch queue? */
export function covers(target: Scope | { scope: Scope }, queue: string): boolean {
  const scope = Array.isArray(target) || target === 'all' ? target : target.scope;
  return scope === 'all' || scope.includes(queue);
}

/** The configured dispatch queues a scope covers, in the scope's own order. */
export function queuesOf(scope: Scope, configured: string[]): string[] {
  return scope === 'all' ? configured : scope;
}

export function ruleHoldId(rule: string): string {
  return `rule:${rule}`;
}

/** `alert:<source>:<fingerprint or id>`: the firing notice adds it, the resolved one releases exactly it. */
export function alertHoldId(alert: { source: string; id: string }): string {
  return `alert:${alert.source}:${alert.id}`;
}

/** The one hold that alerts beyond CALLGUARD_MAX_ALERT_HOLDS join instead of getting their own. */
export const OVERFLOW_HOLD_ID = 'alert:overflow';

/**
 * The overflow hold: every queue (the alerts behind it are not tracked one by one, so it fails
 * closed), lifted when the last alert behind it resolves or by a person.
 */
export function overflowHold(cap: number): Omit<AlertHold, 'since'> {
  return {
    id: OVERFLOW_HOLD_ID,
    kind: 'alert',
    scope: 'all',
    by: 'callguard',
    reason: `more than ${cap} alert holds: the alerts beyond them hold every queue together until all of them resolve`,
  };
}

export function manualHoldId(unique: string = randomUUID()): string {
  return `manual:${unique}`;
}
