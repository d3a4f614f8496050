import type { RedisClient } from './redis.js';

/**
 * Whether the shared connection is serving right now, known without waiting on it: a probe on
 * callguard's own slot every `intervalMs`; unavailable while the client is not connected or a
 * probe has gone unanswered for `staleMs` (a frozen or hung Redis keeps the socket open, and
 * every command queued behind the probe waits with it).
 */
// Event-loop turns are counted this often; a stalled loop (GC, a busy request) counts none.
const TICK_MS = 20;

export class RedisHealth {
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private outstandingSince: number | undefined;
  private ticks = 0;
  private ticksAtProbe = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly probeKey: string,
    private readonly opts: { intervalMs?: number; staleMs?: number } = {},
  ) {}

  available(): boolean {
    if (this.redis.status !== 'ready') return false;
    if (this.outstandingSince === undefined) return true;
    const staleMs = this.opts.staleMs ?? 600;
    // Blame Redis only if this process kept turning meanwhile: a reply that arrived while our own
    // event loop was stalled is still waiting to be read, and Redis is not late.
    const turnedMs = (this.ticks - this.ticksAtProbe) * TICK_MS;
    return Date.now() - this.outstandingSince < staleMs || turnedMs < staleMs / 2;
  }

  start(): this {
    this.timer ??= setInterval(() => this.probe(), this.opts.intervalMs ?? 200).unref();
    this.ticker ??= setInterval(() => this.ticks++, TICK_MS).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.ticker);
    this.timer = undefined;
    this.ticker = undefined;
  }

  private probe(): void {
    if (this.outstandingSince !== undefined || this.redis.status !== 'ready') return;
    this.outstandingSince = Date.now();
    this.ticksAtProbe = this.ticks;
    // A keyed command: on a cluster it goes to the node that holds callguard's slot.
    this.redis.exists(this.probeKey).then(
      () => (this.outstandingSince = undefined),
      () => (this.outstandingSince = undefined),
    );
  }
}
