import { NotFoundError, ValidationError } from '../domain/errors.js';
import { MAX_SILENCES, type Silence } from '../domain/silence.js';
import type { SilenceStore } from '../store/silences.js';
import type { EngineEmitter } from './events.js';

/**
 * Silences as people place and end them: stored and audited in one step, announced, and judged
 * at once (a covered rule's hold released now; a rule still failing when its silence ends trips now).
 */
export class Silencer {
  constructor(
    private readonly store: SilenceStore,
    private readonly emitter: EngineEmitter,
    private readonly evaluate: () => Promise<unknown>,
  ) {}

  list(): Promise<Silence[]> {
    return this.store.list();
  }

  async add(s: Omit<Silence, 'since'>): Promise<Silence> {
    const reply = await this.store.add(s);
    if (reply.status === 'full') {
      throw new ValidationError(`silences: ${MAX_SILENCES} are in force already; end one first (DELETE /health/silences/:id)`);
    }
    const [added] = reply.silences as [Silence];
    await this.emitter.emit('silences', 'silence-added', [added], s.by, reply.now);
    await this.evaluate();
    return added;
  }

  async end(id: string, by: string): Promise<Silence> {
    const reply = await this.store.end(id, by, `ended early by ${by}`);
    if (reply.status === 'missing') throw new NotFoundError(`silence ${id}: not in force (ended already?); nothing changed`);
    const [ended] = reply.silences as [Silence];
    await this.emitter.emit('silences', 'silence-ended', [ended], by, reply.now);
    await this.evaluate();
    return ended;
  }
}
