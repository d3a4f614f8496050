import type { Enforcer } from './enforcer.js';
import type { EngineEmitter } from './events.js';
import type { HoldChange, HoldChangeRequest, HoldLedger } from '../store/holds.js';

/**
 * Every hold transition, whoever asks for it (the evaluator, a person, an alert): commit it in
 * atomic ledger steps, make the dispatch queues follow, then tell the listeners.
 */
export class Transitions {
  constructor(
    private readonly ledger: HoldLedger,
    private readonly enforcer: Enforcer,
    private readonly emitter: EngineEmitter,
    /** The active rules version, named in each change's audit entry unless the request names its own. */
    private readonly rulesVersion?: () => number,
  ) {}

  /**
   * A large request commits in bounded steps; each step is enforced and published before the next.
   * When fewer holds changed than were asked for, the queues are made to follow the holds anyway:
   * usually another instance or an earlier request did it (nothing to do), but a step the Redis
   * client resent after a reconnect also comes back as "no change" while its first run, whose
   * answer was lost, committed a hold that no queue follows yet.
   */
  async apply(req: HoldChangeRequest): Promise<HoldChange[]> {
    const version = req.rulesVersion ?? this.rulesVersion?.();
    const { changes } = await this.ledger.change(version === undefined ? req : { ...req, rulesVersion: version }, async (step) => {
      await this.enforcer.apply(step);
      if (step.length) await this.emitter.emit('changes', step);
    });
    if (changes.length < (req.add?.length ?? 0) + (req.release?.length ?? 0)) await this.enforcer.follow();
    return changes;
  }
}
