/**
 * A value read once and shared for a short while (stale-while-revalidate with a bounded age):
 * callers get the last value at once while it is at most `maxAgeMs` old; past `refreshAfterMs`
 * the first of them starts one read in the background, so under steady polling nobody waits for
 * a read. Only a caller that finds nothing young enough waits, sharing one read with the others.
 * A value's age counts from the moment its read began, so a reply is never older than it says.
 * `invalidate()` (a hold change) makes the next caller wait for a read begun after it. A failed
 * read is not kept (the last good value serves until it is too old, then callers see the error).
 */
export class SnapshotCache<T> {
  private current: { at: number; value: T } | undefined;
  private reading: { at: number; value: Promise<T> } | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly refreshAfterMs = maxAgeMs / 2,
  ) {}

  async get(): Promise<{ value: T; ageMs: number }> {
    const now = Date.now();
    const current = this.current;
    if (current && now - current.at <= this.maxAgeMs) {
      if (now - current.at > this.refreshAfterMs) this.read().value.catch(() => undefined);
      return { value: current.value, ageMs: now - current.at };
    }
    const { at, value } = this.read();
    const v = await value;
    return { value: v, ageMs: Date.now() - at };
  }

  invalidate(): void {
    this.current = undefined;
    this.reading = undefined;
  }

  private read(): { at: number; value: Promise<T> } {
    if (this.reading) return this.reading;
    const entry = { at: Date.now(), value: this.load() };
    this.reading = entry;
    entry.value.then(
      (value) => {
        if (this.reading !== entry) return; // invalidated meanwhile: a newer read decides
        this.reading = undefined;
        if (!this.current || this.current.at < entry.at) this.current = { at: entry.at, value };
      },
      () => {
        if (this.reading === entry) this.reading = undefined;
      },
    );
    return entry;
  }
}
