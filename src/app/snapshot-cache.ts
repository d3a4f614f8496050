/**
 * A value read once and shared for a short while: concurrent callers wait on one load, later
 * callers reuse it until it is `maxAgeMs` old, and `invalidate()` (a hold change) forces the next
 * caller to read afresh. A failed load is not kept.
 */
export class SnapshotCache<T> {
  private current: { at: number; value: Promise<T> } | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}

  async get(): Promise<{ value: T; ageMs: number }> {
    const now = Date.now();
    if (!this.current || now - this.current.at > this.maxAgeMs) {
      const entry = { at: now, value: this.load() };
      this.current = entry;
      entry.value.catch(() => {
        if (this.current === entry) this.current = undefined;
      });
    }
    const { at, value } = this.current;
    return { value: await value, ageMs: Date.now() - at };
  }

  invalidate(): void {
    this.current = undefined;
  }
}
