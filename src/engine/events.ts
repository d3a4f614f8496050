import type { Logger } from 'pino';
import type { HoldChange } from '../store/holds.js';
import type { Silence } from '../domain/silence.js';

/** What the engine publishes, after the change is committed and enforced. */
export interface EngineEvents {
  /** The hold changes this instance made (each change is made by exactly one instance). */
  changes: [changes: HoldChange[]];
  /** One evaluation finished; full: the scheduled tick rather than a fast check after counting. */
  evaluated: [seconds: number, full: boolean];
  /** This instance noticed that Redis lost callguard's state (audited as `state-lost` under auditId). */
  'state-lost': [auditId: string, at: number];
  /** Silences this instance added or ended (an admin, or their time passing); audited in the same step. */
  silences: [event: 'silence-added' | 'silence-ended', silences: Silence[], by: string, at: number];
}

export type Listener<A extends unknown[]> = (...args: A) => void | Promise<void>;

interface Entry<A extends unknown[]> {
  name: string;
  fn: Listener<A>;
}

/**
 * A typed emitter whose listeners cannot hurt the publisher: a listener that throws or rejects is
 * logged with its name and the event, and the others still run. Publishing happens after
 * enforcement, so a slow or failing listener (Slack, metrics) never delays or undoes a pause.
 */
export class EngineEmitter<E extends { [K in keyof E]: unknown[] } = EngineEvents> {
  private readonly listeners: { [K in keyof E]?: Array<Entry<E[K]>> } = {};

  constructor(private readonly logger: Logger) {}

  /** Subscribes; `name` appears in the log when the listener fails. Returns an unsubscribe function. */
  on<K extends keyof E>(event: K, fn: Listener<E[K]>, name: string = fn.name || 'anonymous'): () => void {
    const entry: Entry<E[K]> = { name, fn };
    this.listeners[event] = [...(this.listeners[event] ?? []), entry];
    return () => {
      this.listeners[event] = this.listeners[event]?.filter((e) => e !== entry);
    };
  }

  /** Calls every listener (concurrently) and resolves when all have settled; never rejects. */
  async emit<K extends keyof E>(event: K, ...args: E[K]): Promise<void> {
    const entries = this.listeners[event] ?? [];
    await Promise.all(
      entries.map(async (entry) => {
        try {
          await entry.fn(...args);
        } catch (err) {
          this.logger.error({ err, event: String(event), listener: entry.name }, 'event listener failed');
        }
      }),
    );
  }
}
