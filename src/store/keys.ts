/**
 * Every Redis key callguard owns, in one place. The prefix carries a hash tag (`{callguard}`)
 * so that all of them, and callguard's own BullMQ queues, land in one Redis Cluster slot and
 * the Lua scripts may touch them together.
 */
export const EVENTS_QUEUE = 'events';
export const NOTIFICATIONS_QUEUE = 'notifications';

export class Keys {
  constructor(readonly prefix: string) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'cg', ...parts].join(':');
  }

  /** Hash: minute bucket number → count, for one rule. */
  counts(rule: string): string {
    return this.key('counts', rule);
  }
  /** Hash: rule → "sum:bucket", its window sum as of that minute bucket (kept by the counting script). */
  get windowSums(): string {
    return this.key('window-sums');
  }
  /** Sorted set: ids of reports already counted → ms; a re-run job or resent batch adds nothing. */
  get countedReports(): string {
    return this.key('counted-reports');
  }
  /** String: ms when callguard first wrote its state to this Redis; its absence means the state was lost. */
  get stateMarker(): string {
    return this.key('state');
  }
  /** Hash: hold id → Hold JSON. */
  get holds(): string {
    return this.key('holds');
  }
  /** Hash: dispatch queue → number of holds covering it (absent = none). Read by guarded workers. */
  get covered(): string {
    return this.key('covered');
  }
  /** Hash: rule → ms (Redis clock) since which it has been continuously below threshold. */
  get clearSince(): string {
    return this.key('clear-since');
  }
  /** String: ms of the last hold change; tells the reconciler a transition is in flight. */
  get changedAt(): string {
    return this.key('changed-at');
  }
  /** Hash: dispatch queue → its own global rate limit (JSON, or "none") saved while a probe limits it. */
  get savedLimits(): string {
    return this.key('saved-limits');
  }
  /** Stream: who/what/why/when of every transition. */
  get audit(): string {
    return this.key('audit');
  }
  /** String prefix of Bull Board login sessions (connect-redis appends the session id). */
  get sessionPrefix(): string {
    return this.key('sess') + ':';
  }
  /** String (with TTL): when an alert hold's resolved notice was enqueued; orders it against a racing firing. */
  alertResolved(holdId: string): string {
    return this.key('alert-resolved', holdId);
  }
  /** Every key pattern callguard owns (for cleanup in tests and the demo). */
  get pattern(): string {
    return `${this.prefix}:*`;
  }
}
