import type { Counters } from '../store/counters.js';
import { decide, SYSTEM_ACTOR, type AutoPause, type Decision } from '../domain/decide.js';
import type { Enforcer } from './enforcer.js';
import type { EngineEmitter } from './events.js';
import type { Transitions } from './transitions.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { Rule } from '../domain/types.js';
import type { StateMarker } from '../store/state-marker.js';
import type { SilenceStore } from '../store/silences.js';

export interface EvaluatorSettings {
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: AutoPause;
}

/** Reads counts and holds, asks decide(), and applies its answer as one transition. */
export class Evaluator {
  /** Set once this instance has seen its state in Redis; only then can a missing marker mean a loss. */
  private stateSeen = false;

  constructor(
    private readonly rules: Rule[],
    private readonly counters: Counters,
    private readonly ledger: HoldLedger,
    private readonly transitions: Transitions,
    private readonly enforcer: Enforcer,
    private readonly emitter: EngineEmitter,
    private readonly settings: EvaluatorSettings,
    private readonly marker?: StateMarker,
    /** The version of `rules` (they change in place when another version becomes active). */
    private readonly rulesVersion?: () => number,
    private readonly silences?: Pick<SilenceStore, 'list' | 'expire'>,
  ) {}

  /** full: the scheduled tick (all rules, expiries, drift repair); otherwise a fast check of a few rules. */
  async evaluate(opts: { rules?: Rule[]; full: boolean }): Promise<{ decision: Decision; changes: HoldChange[] }> {
    const started = performance.now();
    // Taken together before any await: a new version arriving meanwhile decides the next evaluation.
    const rules = opts.rules ?? [...this.rules];
    const rulesVersion = this.rulesVersion?.();
    if (opts.full && this.silences) {
      const { silences, now } = await this.silences.expire();
      if (silences.length) await this.emitter.emit('silences', 'silence-ended', silences, SYSTEM_ACTOR, now);
    }
    const [{ now, counts }, holds, clearSince, silences] = await Promise.all([
      this.counters.sums(rules),
      this.ledger.list(),
      this.ledger.clearSince(),
      this.silences?.list() ?? [],
    ]);
    if (opts.full) await this.checkState(now);
    const decision = decide({ rules, counts, holds, clearSince, now, full: opts.full, silences, ...this.settings });
    const changes = await this.transitions.apply(rulesVersion === undefined ? decision : { ...decision, rulesVersion });
    if (opts.full) await this.enforcer.reconcile();
    await this.emitter.emit('evaluated', (performance.now() - started) / 1000, opts.full);
    return { decision, changes };
  }

  /**
   * The first instance to find the marker gone writes it back and reports the loss, once: the
   * others find it present again. Evaluation then goes on at once on the empty state.
   */
  private async checkState(now: number): Promise<void> {
    if (!this.marker) return;
    const missing = await this.marker.ensure(now);
    if (missing && this.stateSeen) {
      const reason =
        'Redis answered without callguard’s state (a restart without persistence or a failover to an empty replica); holds from before are gone';
      const auditId = await this.ledger.appendAudit({
        event: 'state-lost',
        hold: '',
        kind: '',
        by: 'callguard',
        reason,
        paused: [],
        resumed: [],
        at: now,
      });
      await this.emitter.emit('state-lost', auditId, now);
    }
    this.stateSeen = true;
  }
}
