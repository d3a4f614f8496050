import type { Counters } from '../store/counters.js';
import { ValidationError } from '../domain/errors.js';
import { covers, manualHoldId, type AlertHold, type Hold, type ManualHold, type NewHold, type Scope } from '../domain/hold.js';
import type { Transitions } from './transitions.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';

/** What people (API, Bull Board, Slack, CLI) can do to the holds. */
export class Control {
  constructor(
    private readonly queues: string[],
    private readonly ledger: HoldLedger,
    private readonly counters: Counters,
    private readonly transitions: Transitions,
  ) {}

  /** Places a manual hold; `by` is always the authenticated principal, never a body field. */
  async pause(req: {
    by: string;
    reason?: string;
    queues?: string[];
    /** Hold only these providers' jobs in the queues. */
    providers?: string[];
    until?: number;
    id?: string;
  }): Promise<{ hold: Hold; changes: HoldChange[] }> {
    const scope = this.scope(req.queues);
    const hold: Omit<ManualHold, 'since'> = {
      id: req.id ?? manualHoldId(),
      kind: 'manual',
      scope,
      ...(req.providers?.length ? { providers: [...new Set(req.providers)] } : {}),
      by: req.by,
      reason: req.reason?.trim() || 'paused by an operator',
      ...(req.until !== undefined ? { until: req.until } : {}),
    };
    const changes = await this.place(hold);
    const placed = changes[0]?.hold ?? (await this.ledger.list()).find((h) => h.id === hold.id)!;
    return { hold: placed, changes };
  }

  /**
   * Releases every hold covering any of the queues (all holds when omitted), as the original
   * resume did; the released rules' windows restart so a stale burst cannot re-trip at once.
   */
  async resume(req: { by: string; queues?: string[]; reason?: string }): Promise<{ released: Hold[]; changes: HoldChange[] }> {
    const wanted = req.queues?.length ? (this.scope(req.queues) as string[]) : undefined;
    const holds = await this.ledger.list();
    const targets = holds.filter((h) => !wanted || wanted.some((q) => covers(h, q)));
    return this.release(targets, req.by, req.reason ?? 'resumed by an operator');
  }

  /**
   * Places an alert's hold (kind `alert`). An id already held is left alone, so the firing notices
   * Alertmanager repeats every repeat_interval change nothing.
   */
  async addAlertHold(req: {
    id: string;
    by: string;
    reason: string;
    queues?: string[];
    rule?: string;
    alertName?: string;
    source?: string;
  }): Promise<HoldChange[]> {
    const hold: Omit<AlertHold, 'since'> = {
      id: req.id,
      kind: 'alert',
      scope: this.scope(req.queues),
      by: req.by,
      reason: req.reason,
      ...(req.rule !== undefined ? { rule: req.rule } : {}),
      ...(req.alertName !== undefined ? { alertName: req.alertName } : {}),
      ...(req.source !== undefined ? { source: req.source } : {}),
    };
    return this.place(hold);
  }

  /**
   * Releases specific holds by id (Slack button, alert resolved). An id without a hold of its own
   * may be an alert behind the overflow hold: the ledger takes it out of there. With `owner`, each
   * hold is released only if that principal placed it, checked in the same atomic step.
   */
  async releaseIds(
    ids: string[],
    by: string,
    reason: string,
    opts: { owner?: string } = {},
  ): Promise<{ released: Hold[]; changes: HoldChange[] }> {
    const holds = await this.ledger.list();
    return this.release(
      holds.filter((h) => ids.includes(h.id)),
      by,
      reason,
      ids,
      opts.owner,
    );
  }

  private async release(targets: Hold[], by: string, reason: string, ids = targets.map((h) => h.id), owner?: string) {
    const rules = targets.flatMap((h) => (h.kind === 'rule' ? [h.rule] : []));
    await this.counters.reset(rules);
    const release = ids.map((id) => ({ id, by, reason, ...(owner !== undefined ? { owner } : {}) }));
    const changes = await this.transitions.apply({ release, stopClear: rules });
    return { released: changes.map((c) => c.hold), changes };
  }

  /** Adds one hold; an id already held is left alone (no change, no notice). */
  private place(hold: NewHold): Promise<HoldChange[]> {
    return this.transitions.apply({ add: [hold] });
  }

  private scope(queues: string[] | undefined): Scope {
    if (!queues?.length) return 'all';
    const unknown = queues.filter((q) => !this.queues.includes(q));
    if (unknown.length)
      throw new ValidationError(`queues: unknown dispatch queue(s) ${unknown.join(', ')}; configured: ${this.queues.join(', ')}`);
    return [...new Set(queues)];
  }
}
