/**
 * Waits for `work` at most `ms`; then settles with `onTimeout()` instead (a value, or a rejection
 * if it throws). The timer is always cleared, so nothing keeps the process alive afterwards.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        // Passes on whatever onTimeout() threw, unchanged, as an await of it would.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      }
    }, ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
