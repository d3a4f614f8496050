import type { Logger } from 'pino';
import { changeOf, type HoldChange, type HoldLedger } from '../store/holds.js';
import type { OutboxCursor } from '../store/outbox-cursor.js';

const PAGE = 200;
// Pages per relay: bounded work per call; the next change or tick continues where this one stopped.
const PAGES = 20;

/**
 * The audit stream is the outbox: a hold change and its audit entry are committed together, and
 * notifications are derived from the entries afterwards, with the audit id as the job id. A crash
 * between the commit and the notification leaves the entry behind the cursor, and the next relay
 * (the next change or evaluator tick, on any instance) sends it: one message per transition.
 */
export class Outbox {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly ledger: HoldLedger,
    private readonly cursor: OutboxCursor,
    private readonly enqueue: (changes: HoldChange[]) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Call once before the first change this process makes. */
  async init(): Promise<void> {
    await this.cursor.init(await this.ledger.lastAuditId());
  }

  /** Hands every entry after the cursor to the notifications queue; overlapping calls share one pass. */
  relay = (): Promise<void> => {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.drain();
        } while (this.again);
      } catch (err) {
        this.logger.error({ err }, 'could not relay hold changes to notifications; the next change or tick retries');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  };

  private async drain(): Promise<void> {
    let position = await this.cursor.get();
    for (let page = 0; page < PAGES; page++) {
      const entries = await this.ledger.auditAfter(position, PAGE);
      if (!entries.length) return;
      const changes = entries.map(changeOf).filter((c): c is HoldChange => c !== undefined);
      if (changes.length) await this.enqueue(changes);
      position = entries.at(-1)!.id;
      await this.cursor.advance(position);
    }
  }
}
