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
  /** String: id of the last audit entry handed to the notifications queue (the outbox's read position). */
  get notifyCursor(): string {
    return this.key('notify-cursor');
  }
  /** String (with TTL): one instance's claim to audit a drift repair of this dispatch queue. */
  driftClaim(queue: string): string {
    return this.key('drift-claim', queue);
  }
  /** String (1 h): the answer given to one Idempotency-Key (sha256 of principal, route and key); '' while in progress. */
  idempotency(hash: string): string {
    return this.key('idem', hash);
  }
  /** Hash: one principal's Idempotency-Keys claimed per sixth of their lifetime (its quota). */
  idempotencyQuota(principal: string): string {
    return this.key('idem-quota', principal);
  }
  /** Hash: hold id → Hold JSON. */
  get holds(): string {
    return this.key('holds');
  }
  /** Hash: dispatch queue → number of holds covering it (absent = none). Read by guarded workers. */
  get covered(): string {
    return this.key('covered');
  }
  /**
   * Hash: `queue:provider` → number of pausing provider holds covering that provider's jobs in
   * that queue (absent = none). Read by guarded workers.
   */
  get coveredProviders(): string {
    return this.key('covered-providers');
  }
  /** Hash: `queue:provider` → jobs per minute while probe or throttle holds cover it (the tightest). */
  get providerLimits(): string {
    return this.key('provider-limits');
  }
  /** Sorted set: start times (ms, Redis clock) of the last minute's calls let through for a rate-limited `queue:provider`. */
  rateLog(target: string): string {
    return this.key('rate', target);
  }
  /** Hash: provider → `<calls>/<ms>`, its capacity from the rules file's `providers` (written at start). */
  get capacities(): string {
    return this.key('capacities');
  }
  /** Sorted set: start times (ms, Redis clock) of a provider's calls in the last second, across every queue. */
  capacityLog(provider: string): string {
    return this.key('cap', provider);
  }
  /**
   * Hash kept by the guard: `queue|from|to` → jobs that went to `to` instead of their first
   * choice `from`; `held|queue:from` → of those, the ones while `from` was held (restarted when
   * it is held, taken into the audit at its release); `route|queue:from` → the candidates after `from` a job listed (what its calls fall back to).
   */
  get failovers(): string {
    return this.key('failovers');
  }
  /** Set: the providers workers have reported outcomes for (bounded), so a misspelt provider in a rule shows. */
  get reportedProviders(): string {
    return this.key('reported-providers');
  }
  /** Set (24 h): the providers a dispatch job's calls failed on; its retries prefer the others. */
  tried(queue: string, jobId: string): string {
    return this.key('tried', queue, jobId);
  }
  /** Sorted set: job id → job timestamp of dispatch jobs parked while `queue:provider` is held. */
  parked(target: string): string {
    return this.key('parked', target);
  }
  /** Set: the `queue:provider` targets that may have parked jobs. */
  get parkedIndex(): string {
    return this.key('parked-index');
  }
  /**
   * Hash kept by the hold-change script beside `covered`: `queues` (JSON: the dispatch queues
   * `covered` was counted for; another list makes the script recount) and `alerts` (alert holds,
   * not counting the overflow hold).
   */
  get holdIndex(): string {
    return this.key('hold-index');
  }
  /**
   * Hash: alert hold id → sending principal, for alerts beyond CALLGUARD_MAX_ALERT_HOLDS held by
   * the overflow hold instead of their own; field `*` once it holds MAX_OVERFLOW_MEMBERS.
   */
  get alertOverflow(): string {
    return this.key('alert-overflow');
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
  /** Hash: the active rules version: version, hash, doc (JSON of a RulesVersion). */
  get rulesActive(): string {
    return this.key('rules', 'active');
  }
  /** List: the last versions' documents (JSON), newest first, bounded. */
  get rulesHistory(): string {
    return this.key('rules', 'history');
  }
  /** Hash: silence id → Silence JSON (bounded: MAX_SILENCES). */
  get silences(): string {
    return this.key('silences');
  }
  /** String: a ring of (minute, count) u32 pairs, the last 24 h of one counter (see history.ts). */
  history(counter: string): string {
    return this.key('history', counter);
  }
  /** Stream: who/what/why/when of every transition. */
  get audit(): string {
    return this.key('audit');
  }
  /** String prefix of Bull Board login sessions (connect-redis appends the session id). */
  get sessionPrefix(): string {
    return this.key('sess') + ':';
  }
  /**
   * Sorted set: JSON [principal, alert hold id] → ms its latest resolved notice was enqueued; orders it against a
   * racing firing notice. One capped set instead of a key per notice, so a flood of resolved
   * notices for alerts that never fired cannot grow Redis without bound.
   */
  get alertResolved(): string {
    return this.key('alert-resolved');
  }
  /** String (with TTL) per accepted webhook/Slack signature, so a captured request is accepted once. */
  signatureSeen(kind: string, signature: string): string {
    return this.key('seen', kind, signature);
  }
  /** String prefix of the express-rate-limit counters (rate-limit-redis appends the client key). */
  rateLimitPrefix(limiter: string): string {
    return this.key('rl', limiter) + ':';
  }
  /** String (until the job's expiry): a signed `alert` / `slack-action` job with this id was carried out. */
  jobReceipt(jobId: string): string {
    return this.key('job-done', jobId);
  }
  /** String: the random job-signing key, used only when CALLGUARD_SESSION_SECRET is unset. */
  get jobKey(): string {
    return this.key('job-key');
  }
  /** Every key pattern callguard owns (for cleanup in tests and the demo). */
  get pattern(): string {
    return `${this.prefix}:*`;
  }
}
