import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { covers, isRateLimiting, parseTarget, type Hold } from '../domain/hold.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { ParkedJobs } from '../store/parked.js';

// Parked jobs promoted per step of a release: each is one BullMQ script call.
const PROMOTE_CHUNK = 100;

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
    private readonly parked: ParkedJobs,
  ) {}

  /** Applies the transitions of hold changes this instance made: queues, then parked provider jobs. */
  async apply(changes: HoldChange[]): Promise<void> {
    const touched = new Set(changes.flatMap((c) => [...c.paused, ...c.resumed]));
    // The probe's limit goes on before the queue resumes, or the backlog would rush out unlimited.
    // (A provider's limit is written by the hold change itself.)
    if (changes.some((c) => isRateLimiting(c.hold) && !c.hold.providers?.length)) await this.applyLimits();
    await Promise.all([...touched].filter((t) => !parseTarget(t).provider).map((q) => this.converge(q)));
    const released = changes.flatMap((c) => c.resumed).filter((t) => parseTarget(t).provider);
    await Promise.all(released.map((t) => this.releaseParked(t)));
  }

  /**
   * Makes every dispatch queue and parked provider follow the holds as they are, without an audit
   * entry or a look at rate limits: for a hold change that came back as no change.
   */
  async follow(): Promise<void> {
    await Promise.all([...this.queues.keys()].map((q) => this.converge(q)));
    await this.releaseUnheldParked();
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
    await this.releaseUnheldParked();
    return repaired;
  }

  /** Parked jobs whose release was not carried out (a crash between the change and the promotion). */
  private async releaseUnheldParked(): Promise<void> {
    const held = await this.ledger.coveredProviders();
    for (const target of await this.parked.targets()) {
      if (!held.has(target)) await this.releaseParked(target);
    }
  }

  /**
   * Moves the jobs parked for a released `queue:provider` back to waiting, oldest first, in
   * bounded steps, and stops if the provider is held again. Jobs are taken off the list before
   * they are promoted; one that cannot be promoted while still delayed goes back on the list for
   * the next tick (a crash in between leaves it delayed until its worker's parkMs).
   */
  private async releaseParked(target: string): Promise<void> {
    const queue = this.queues.get(parseTarget(target).queue);
    if (!queue) return;
    let promoted = 0;
    for (let left = await this.parked.count(target); left > 0; left -= PROMOTE_CHUNK) {
      if ((await this.ledger.coveredProviders()).has(target)) break;
      const taken = await this.parked.take(target, PROMOTE_CHUNK);
      if (!taken.length) break;
      // Sent together on one connection, so Redis runs the promotions in the parked order.
      const done = await Promise.all(taken.map(([id, timestamp]) => this.promote(queue, target, id, timestamp)));
      promoted += done.filter(Boolean).length;
    }
    await this.parked.dropIfEmpty(target);
    if (promoted) this.logger.info({ target, promoted }, 'provider released; parked jobs back in the queue');
  }

  private async promote(queue: Queue, target: string, id: string, timestamp: number): Promise<boolean> {
    const job = await queue.getJob(id).catch(() => undefined);
    if (!job) return false; // removed, or Redis away (then its worker's parkMs brings it back)
    try {
      await job.promote();
      return true;
    } catch {
      // Not delayed any more (promoted by its worker, running) is fine; still delayed means retry.
      if (await job.isDelayed().catch(() => false)) await this.parked.park(target, id, timestamp).catch(() => undefined);
      return false;
    }
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
   * Probes and throttles run a queue under a BullMQ global rate limit. The queue's own limit, if
   * it had one, is saved first and restored when the last such hold covering it ends. (Provider
   * holds' limits are written by the hold-change script itself, for the guarded workers.)
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

/** The tightest probe or throttle limit on a whole queue, if any. */
export function probeLimit(holds: Hold[], queue: string): number | undefined {
  const limits = holds.flatMap((h) => (!h.providers?.length && limitOf(h) && covers(h, queue) ? [limitOf(h)!] : []));
  return limits.length ? Math.min(...limits) : undefined;
}

function limitOf(h: Hold): number | undefined {
  return h.kind === 'rule' && isRateLimiting(h) ? h.maxPerMinute : undefined;
}
