/**
 * A value read once and shared for a short while: concurrent callers wait on one load, later
 * callers reuse it until it is `maxAgeMs` old, and `invalidate()` (a hold change) forces the next
 * caller to read afresh. Past `maxAgeMs`, callers still get the last value (up to `staleMs` old)
 * while one refresh runs behind them: under load every reader otherwise queued behind each refresh,
 * which set the status route's p99 (bench P6). A failed load is not kept.
 */
interface Entry<T> {
  at: number;
  value: T;
}

export class SnapshotCache<T> {
  private current: Entry<T> | undefined;
  private loading: Promise<Entry<T>> | undefined;
  /** Bumped by invalidate(): a load started before it must not become current. */
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly staleMs = maxAgeMs * 5,
  ) {}

  async get(): Promise<{ value: T; ageMs: number }> {
    const { current } = this;
    const age = current ? Date.now() - current.at : Infinity;
    if (current && age <= this.maxAgeMs) return { value: current.value, ageMs: age };
    const refresh = (this.loading ??= this.refresh());
    if (current && age <= this.staleMs) return { value: current.value, ageMs: age };
    const entry = await refresh;
    return { value: entry.value, ageMs: Date.now() - entry.at };
  }

  invalidate(): void {
    this.generation += 1;
    this.current = undefined;
    this.loading = undefined;
  }

  private refresh(): Promise<Entry<T>> {
    const generation = this.generation;
    const at = Date.now();
    const loading: Promise<Entry<T>> = this.load().then(
      (value) => {
        const entry = { at, value };
        if (this.generation === generation) this.current = entry;
        return entry;
      },
    ).finally(() => {
      if (this.loading === loading) this.loading = undefined;
    });
    // A refresh nobody waits for must not become an unhandled rejection; waiters still see it fail.
    loading.catch(() => undefined);
    return loading;
  }
}
