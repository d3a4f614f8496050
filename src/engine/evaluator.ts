import type { Counters } from '../store/counters.js';
import { decide, type AutoPause, type Decision } from '../domain/decide.js';
import type { Enforcer } from './enforcer.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { Rule } from '../domain/types.js';

export interface EvaluatorSettings {
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: AutoPause;
}

export type ChangeListener = (changes: HoldChange[]) => void | Promise<void>;
export type EvaluationListener = (seconds: number, full: boolean) => void;

/** Reads counts and holds, asks decide(), and applies its answer. */
export class Evaluator {
  private readonly listeners: ChangeListener[] = [];
  private readonly evaluated: EvaluationListener[] = [];

  constructor(
    private readonly rules: Rule[],
    private readonly counters: Counters,
    private readonly ledger: HoldLedger,
    private readonly enforcer: Enforcer,
    private readonly settings: EvaluatorSettings,
  ) {}

  /** Called with the hold changes this instance made (once per change across all instances). */
  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener) >>> 0, 1);
  }

  /** Called with the duration of each evaluation. */
  onEvaluated(listener: EvaluationListener): void {
    this.evaluated.push(listener);
  }

  /** full: the scheduled tick (all rules, expiries, drift repair); otherwise a fast check of a few rules. */
  async evaluate(opts: { rules?: Rule[]; full: boolean }): Promise<{ decision: Decision; changes: HoldChange[] }> {
    const started = performance.now();
    const rules = opts.rules ?? this.rules;
    const [{ now, counts }, holds, clearSince] = await Promise.all([
      this.counters.sums(rules),
      this.ledger.list(),
      this.ledger.clearSince(),
    ]);
    const decision = decide({ rules, counts, holds, clearSince, now, full: opts.full, ...this.settings });
    await this.ledger.startClear(decision.startClear, now);
    const { changes } = await this.ledger.change({ add: decision.add, release: decision.release });
    await this.ledger.stopClear(decision.stopClear);
    await this.enforcer.apply(changes);
    if (opts.full) await this.enforcer.reconcile();
    const seconds = (performance.now() - started) / 1000;
    for (const l of this.evaluated) l(seconds, opts.full);
    await this.emit(changes);
    return { decision, changes };
  }

  async emit(changes: HoldChange[]): Promise<void> {
    if (!changes.length) return;
    for (const l of this.listeners) {
      try {
        await l(changes);
      } catch {
        // A listener (e.g. a notifier) must never undo or delay enforcement.
      }
    }
  }
}
