import type { RedisClient } from './redis.js';

/**
 * Whether the shared connection is serving right now, known without waiting on it: a probe on
 * callguard's own slot every `intervalMs`; unavailable while the client is not connected or a
 * probe has gone unanswered for `staleMs` (a frozen or hung Redis keeps the socket open, and
 * every command queued behind the probe waits with it).
 */
export class RedisHealth {
  private timer: NodeJS.Timeout | undefined;
  private outstandingSince: number | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly probeKey: string,
    private readonly opts: { intervalMs?: number; staleMs?: number } = {},
  ) {}

  available(): boolean {
    if (this.redis.status !== 'ready') return false;
    return this.outstandingSince === undefined || Date.now() - this.outstandingSince < (this.opts.staleMs ?? 600);
  }

  start(): this {
    this.timer ??= setInterval(() => this.probe(), this.opts.intervalMs ?? 200).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private probe(): void {
    if (this.outstandingSince !== undefined || this.redis.status !== 'ready') return;
    this.outstandingSince = Date.now();
    // A keyed command: on a cluster it goes to the node that holds callguard's slot.
    this.redis.exists(this.probeKey).then(
      () => (this.outstandingSince = undefined),
      () => (this.outstandingSince = undefined),
    );
  }
}
