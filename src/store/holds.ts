import type { Release } from '../domain/decide.js';
import { overflowHold, type Hold, type NewHold } from '../domain/hold.js';
import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { changeHolds } from './scripts.js';

/** The audit events of hold changes, by effect: placed, then lifted (change-holds-10.lua's EVENTS). */
export const HOLD_CHANGE_EVENTS = [
  'hold-added',
  'hold-released',
  'would-pause',
  'would-resume',
  'probe-started',
  'probe-ended',
  'throttle-started',
  'throttle-ended',
] as const;

export interface HoldChange {
  event: (typeof HOLD_CHANGE_EVENTS)[number];
  hold: Hold;
  /** Who made the change and why (for a release: the releaser, not the hold's author). */
  by: string;
  reason: string;
  /** Targets this change newly paused / left with no hold: queues, or `queue:provider` for provider holds. */
  paused: string[];
  resumed: string[];
  auditId: string;
  /** Jobs of the resumed provider targets that ran on another candidate while they were held. */
  failedOver?: number;
}

export interface AuditEntry {
  id: string;
  event: string;
  hold: string;
  kind: string;
  by: string;
  reason: string;
  paused: string[];
  resumed: string[];
  at: number;
  data?: unknown;
  /** The rules version in force when the change was decided (0: unknown). */
  rules?: number;
  /** A release's jobs of its provider targets that ran on another candidate while held. */
  failedOver?: number;
}

/** One atomic step of change-holds-10.lua; see its header for the order the parts apply in. */
export interface HoldChangeRequest {
  add?: NewHold[];
  release?: Release[];
  /** Rules whose clear-since time starts now (kept if already set). */
  startClear?: string[];
  /** Rules whose clear-since time is forgotten. */
  stopClear?: string[];
  /** The rules version that decided this change (audited as `rules`). */
  rulesVersion?: number;
}

export const AUDIT_MAXLEN = 10_000;
/** Holds added or released per script call: a resume-all of thousands of holds never blocks Redis for long. */
export const HOLDS_PER_STEP = 50;
/** Alerts tracked behind the overflow hold; beyond them it stays until a person releases it. */
export const MAX_OVERFLOW_MEMBERS = 10_000;

/** The hold ledger: every cause of a pause, changed atomically and audited in the same step. */
export class HoldLedger {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
    private readonly queues: string[],
    private readonly maxAlertHolds = 200,
    /** The minute provider rate limits are counted in (CALLGUARD_MINUTE_SECONDS). */
    private readonly minuteMs = 60_000,
  ) {}

  async list(): Promise<Hold[]> {
    const raw = await this.redis.hvals(this.keys.holds);
    return raw.map(parseHold).sort((a, b) => a.since - b.since);
  }

  /**
   * Applies the request in steps of at most HOLDS_PER_STEP holds (see stepsOf); each step is one
   * atomic script call, and `onStep` sees its changes before the next step starts.
   */
  async change(req: HoldChangeRequest, onStep?: (changes: HoldChange[]) => Promise<void>): Promise<{ now: number; changes: HoldChange[] }> {
    const { add = [], release = [], startClear = [], stopClear = [] } = req;
    if (!add.length && !release.length && !startClear.length && !stopClear.length) return { now: Date.now(), changes: [] };
    let now = 0;
    const changes: HoldChange[] = [];
    for (const step of stepsOf(req, HOLDS_PER_STEP)) {
      const done = await this.step(req.rulesVersion === undefined ? step : { ...step, rulesVersion: req.rulesVersion });
      now = done.now;
      changes.push(...done.changes);
      await onStep?.(done.changes);
    }
    return { now, changes };
  }

  private async step(req: HoldChangeRequest): Promise<{ now: number; changes: HoldChange[] }> {
    const k = this.keys;
    const overflow = { hold: overflowHold(this.maxAlertHolds), cap: this.maxAlertHolds, maxMembers: MAX_OVERFLOW_MEMBERS };
    const out = await changeHolds(
      this.redis,
      {
        holds: k.holds,
        covered: k.covered,
        audit: k.audit,
        changedAt: k.changedAt,
        clearSince: k.clearSince,
        holdIndex: k.holdIndex,
        alertOverflow: k.alertOverflow,
        coveredProviders: k.coveredProviders,
        providerLimits: k.providerLimits,
        failovers: k.failovers,
      },
      JSON.stringify({ queues: this.queues, maxlen: AUDIT_MAXLEN, minuteMs: this.minuteMs, ...req, overflow }),
    );
    const parsed = JSON.parse(out) as { now: number; changes: unknown };
    // cjson encodes an empty Lua table as {}, so lists may come back as objects.
    const changes = asArray(parsed.changes).map((c) => {
      const change = c as HoldChange;
      return {
        ...change,
        hold: parseHold(JSON.stringify(change.hold)),
        paused: asArray<string>(change.paused),
        resumed: asArray<string>(change.resumed),
      };
    });
    return { now: parsed.now, changes };
  }

  /** The principal whose alert is held by the overflow hold instead of its own, if it is. */
  async overflowMember(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.alertOverflow, id)) ?? undefined;
  }

  /** Queues with at least one hold, as last written by a hold change. */
  async coveredQueues(): Promise<Set<string>> {
    return new Set(Object.keys(await this.redis.hgetall(this.keys.covered)));
  }

  /** `queue:provider` targets with at least one provider hold. */
  async coveredProviders(): Promise<Set<string>> {
    return new Set(Object.keys(await this.redis.hgetall(this.keys.coveredProviders)));
  }

  async clearSince(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.clearSince);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** Remembers a queue's own rate limit before a probe replaces it (first save wins). */
  async saveLimit(queue: string, limit: { max: number; duration: number } | null): Promise<void> {
    await this.redis.hsetnx(this.keys.savedLimits, queue, JSON.stringify(limit));
  }

  /** The saved limit (null: it had none) and forgets it; undefined when nothing was saved. */
  async takeSavedLimit(queue: string): Promise<{ max: number; duration: number } | null | undefined> {
    const [[, raw]] = (await this.redis.multi().hget(this.keys.savedLimits, queue).hdel(this.keys.savedLimits, queue).exec()) as [
      [unknown, string | null],
    ];
    return raw === null ? undefined : (JSON.parse(raw) as { max: number; duration: number } | null);
  }

  /** Redis' clock, in ms. */
  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  async lastChangeAt(): Promise<number> {
    return Number((await this.redis.get(this.keys.changedAt)) ?? 0);
  }

  async appendAudit(fields: Omit<AuditEntry, 'id' | 'at'> & { at?: number }): Promise<string> {
    const id = await this.redis.xadd(
      this.keys.audit,
      'MAXLEN',
      '~',
      AUDIT_MAXLEN,
      '*',
      'event',
      fields.event,
      'hold',
      fields.hold,
      'kind',
      fields.kind,
      'by',
      fields.by,
      'reason',
      fields.reason,
      'paused',
      fields.paused.join(','),
      'resumed',
      fields.resumed.join(','),
      'at',
      String(fields.at ?? Date.now()),
      'data',
      JSON.stringify(fields.data ?? null),
    );
    return id!;
  }

  /** True for the one instance that may audit this queue's drift repair (the claim lasts `ms`). */
  async claimDriftRepair(queue: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.driftClaim(queue), '1', 'PX', ms, 'NX')) === 'OK';
  }

  /** Newest first. */
  async audit(limit = 100): Promise<AuditEntry[]> {
    return (await this.redis.xrevrange(this.keys.audit, '+', '-', 'COUNT', limit)).map(auditEntry);
  }

  /** Oldest first: at most `count` entries after `afterId` ('0-0' for the start). */
  async auditAfter(afterId: string, count: number): Promise<AuditEntry[]> {
    return (await this.redis.xrange(this.keys.audit, `(${afterId}`, '+', 'COUNT', count)).map(auditEntry);
  }

  /** The newest entry's id, or '0-0' when the stream is empty. */
  async lastAuditId(): Promise<string> {
    return (await this.redis.xrevrange(this.keys.audit, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  }
}

const CHANGE_EVENTS: ReadonlySet<string> = new Set(HOLD_CHANGE_EVENTS);

/** The hold change an audit entry records, or undefined for entries that are not hold changes (drift, lost state). */
export function changeOf(e: AuditEntry): HoldChange | undefined {
  if (!CHANGE_EVENTS.has(e.event) || typeof e.data !== 'object' || e.data === null) return undefined;
  return {
    event: e.event as HoldChange['event'],
    hold: parseHold(JSON.stringify(e.data)),
    by: e.by,
    reason: e.reason,
    paused: e.paused,
    resumed: e.resumed,
    auditId: e.id,
    ...(e.failedOver ? { failedOver: e.failedOver } : {}),
  };
}

function auditEntry([id, flat]: [string, string[]]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    event: f.event ?? '',
    hold: f.hold ?? '',
    kind: f.kind ?? '',
    by: f.by ?? '',
    reason: f.reason ?? '',
    paused: f.paused ? f.paused.split(',') : [],
    resumed: f.resumed ? f.resumed.split(',') : [],
    at: Number(f.at),
    data: f.data ? JSON.parse(f.data) : undefined,
    ...(f.rules ? { rules: Number(f.rules) } : {}),
    ...(f.failed_over ? { failedOver: Number(f.failed_over) } : {}),
  };
}

/**
 * Splits a request into steps of at most `size` holds, in order (releases, then adds), with
 * startClear in the first step and stopClear in the last. A small request is one step; a large
 * one (an admin resume-all) loses all-or-nothing across steps, not within one.
 */
export function stepsOf(req: HoldChangeRequest, size: number): HoldChangeRequest[] {
  const { add = [], release = [], startClear = [], stopClear = [] } = req;
  if (add.length + release.length <= size) return [{ add, release, startClear, stopClear }];
  const steps: HoldChangeRequest[] = [];
  for (let i = 0; i < release.length + add.length; i += size) {
    const end = i + size;
    steps.push({
      release: release.slice(i, end),
      add: add.slice(Math.max(0, i - release.length), Math.max(0, end - release.length)),
      startClear: [],
      stopClear: [],
    });
  }
  steps[0]!.startClear = startClear;
  steps.at(-1)!.stopClear = stopClear;
  return steps;
}

function asArray<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

function parseHold(raw: string): Hold {
  const h = JSON.parse(raw) as Hold & { scope: unknown };
  return { ...h, scope: h.scope === 'all' ? 'all' : asArray<string>(h.scope) };
}
