import type { Enforcer } from './enforcer.js';
import type { EngineEmitter } from './events.js';
import type { HoldChange, HoldChangeRequest, HoldLedger } from '../store/holds.js';

/**
 * Every hold transition, whoever asks for it (the evaluator, a person, an alert): commit it in
 * one atomic ledger step, make the dispatch queues follow, then tell the listeners.
 */
export class Transitions {
  constructor(
    private readonly ledger: HoldLedger,
    private readonly enforcer: Enforcer,
    private readonly emitter: EngineEmitter,
  ) {}

  async apply(req: HoldChangeRequest): Promise<HoldChange[]> {
    const { changes } = await this.ledger.change(req);
    await this.enforcer.apply(changes);
    if (changes.length) await this.emitter.emit('changes', changes);
    return changes;
  }
}
