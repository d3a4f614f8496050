/** A stand-in for a telephony provider that fails for a while and then recovers. */
export class SimulatedProvider {
  private readonly startedAt = Date.now();
  calls = 0;
  failures = 0;

  constructor(
    readonly name: string,
    private readonly failForMs: number,
    private readonly latencyMs = 20,
  ) {}

  get failing(): boolean {
    return Date.now() - this.startedAt < this.failForMs;
  }

  async placeCall(to: string): Promise<{ sid: string }> {
    this.calls += 1;
    await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.failing) {
      this.failures += 1;
      throw new Error(`${this.name} returned 503 for ${to}`);
    }
    return { sid: `CA${this.calls.toString(16).padStart(8, '0')}` };
  }
}
