/**
 * What a test measured (latencies, counts, how far a fault got), printed through one place: each
 * line starts `[figure]`, so a run's figures can be pulled out of the output with grep. Figures
 * are for people reading the run; a test's verdict never depends on them.
 */
export function figure(...parts: unknown[]): void {
  console.log('[figure]', ...parts);
}
