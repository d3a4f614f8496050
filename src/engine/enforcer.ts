import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { covers, effectOf, type Hold } from '../domain/hold.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';

// A hold change applies its pause within milliseconds; a mismatch younger than this is a
// transition in flight, not drift worth an audit entry.
const IN_FLIGHT_MS = 2000;

/** Makes each dispatch queue's real BullMQ state (paused, probe rate limit) follow the holds. */
export class Enforcer {
  constructor(
    private readonly queues: Map<string, Queue>,
    private readonly ledger: HoldLedger,
    private readonly logger: Logger,
    private readonly minuteMs: number,
  ) {}

  /** Applies the queue transitions of hold changes this instance made. */
  async apply(changes: HoldChange[]): Promise<void> {
    const touched = new Set(changes.flatMap((c) => [...c.paused, ...c.resumed]));
    // The probe's limit goes on before the queue resumes, or the backlog would rush out unlimited.
    if (changes.some((c) => effectOf(c.hold) === 'probe')) await this.applyLimits();
    await Promise.all([...touched].map((q) => this.converge(q)));
  }

  /** Compares every dispatch queue with its holds and repairs mismatches; audits real drift. */
  async reconcile(): Promise<string[]> {
    const [covered, lastChange] = await Promise.all([this.ledger.coveredQueues(), this.ledger.lastChangeAt()]);
    const repaired: string[] = [];
    for (const [name, queue] of this.queues) {
      const desired = covered.has(name);
      if ((await queue.isPaused()) === desired) continue;
      const now = await this.ledger.now();
      await this.converge(name);
      if (now - lastChange < IN_FLIGHT_MS) continue;
      // Instances reconciling at once all repair (idempotent); one of them records it.
      if (!(await this.ledger.claimDriftRepair(name, IN_FLIGHT_MS))) continue;
      repaired.push(name);
      this.logger.warn({ queue: name, desired: desired ? 'paused' : 'running' }, 'dispatch queue drifted from its holds; repaired');
      await this.ledger.appendAudit({
        event: 'drift-repaired',
        hold: '',
        kind: '',
        by: 'callguard',
        reason: `queue was ${desired ? 'running' : 'paused'} but holds say ${desired ? 'paused' : 'running'}`,
        paused: desired ? [name] : [],
        resumed: desired ? [] : [name],
        at: now,
      });
    }
    await this.applyLimits();
    return repaired;
  }

  /**
   * Pause or resume until the holds read after acting agree with the action. Two instances can
   * act in either order; whichever acts last re-reads the holds and puts it right.
   */
  private async converge(name: string): Promise<void> {
    const queue = this.queues.get(name);
    if (!queue) return;
    for (let i = 0; i < 5; i++) {
      const desired = (await this.ledger.coveredQueues()).has(name);
      if ((await queue.isPaused()) !== desired) {
        await (desired ? queue.pause() : queue.resume());
        this.logger.info({ queue: name }, desired ? 'dispatch queue paused' : 'dispatch queue resumed');
      }
      if ((await this.ledger.coveredQueues()).has(name) === desired) return;
    }
    this.logger.error({ queue: name }, 'holds kept changing while enforcing; the next tick will retry');
  }

  /**
   * Half-open probes run a queue under a BullMQ global rate limit. The queue's own limit, if it
   * had one, is saved first and restored when the last probe covering it ends.
   */
  private async applyLimits(): Promise<void> {
    const holds = await this.ledger.list();
    for (const [name, queue] of this.queues) {
      const limit = probeLimit(holds, name);
      const current = await queue.getGlobalRateLimit();
      if (limit !== undefined) {
        await this.ledger.saveLimit(name, current ?? null);
        if (current?.max !== limit || current.duration !== this.minuteMs) {
          await queue.setGlobalRateLimit(limit, this.minuteMs);
          this.logger.info({ queue: name, maxPerMinute: limit }, 'dispatch queue probing under a rate limit');
        }
        continue;
      }
      const saved = await this.ledger.takeSavedLimit(name);
      if (saved === undefined) continue;
      await (saved ? queue.setGlobalRateLimit(saved.max, saved.duration) : queue.removeGlobalRateLimit());
      this.logger.info({ queue: name }, 'probe over; dispatch queue rate limit restored');
    }
  }
}

/** The tightest probe limit covering a queue, if any. */
export function probeLimit(holds: Hold[], queue: string): number | undefined {
  const limits = holds.flatMap((h) =>
    h.kind === 'rule' && effectOf(h) === 'probe' && h.maxPerMinute && covers(h, queue) ? [h.maxPerMinute] : [],
  );
  return limits.length ? Math.min(...limits) : undefined;
}
