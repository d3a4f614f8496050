/**
 * `npm start`'s health side (events worker, evaluator schedule, notifier) on a thread of its own.
 * During an error storm the HTTP requests fill every turn of the main thread's event loop, and a
 * trip (job pick-up, count, decide, hold, pause: about eight Redis round trips) waited one turn per
 * round trip; on its own event loop it waits for none of them (bench P3s). The thread has its own
 * Redis connections and Callguard, as a separate `npm run start:health` process would.
 */
import { parentPort } from 'node:worker_threads';
import { bootCallguard } from './boot.js';
import { readStatus, type StatusRead } from './status-read.js';

export type ToHealthThread = { kind: 'stop' } | { kind: 'metrics'; id: number } | { kind: 'status'; id: number };
export type FromHealthThread =
  | { kind: 'ready' }
  | { kind: 'stopped' }
  | { kind: 'failed'; message: string }
  | { kind: 'metrics'; id: number; json: unknown[] }
  | { kind: 'status'; id: number; read?: StatusRead; error?: string };

const port = parentPort;
if (!port) throw new Error('health-thread runs as a worker thread of npm start (src/app/main.ts)');
const post = (m: FromHealthThread) => port.postMessage(m);

try {
  const { cg, logger } = await bootCallguard({ warnRules: false });
  await cg.startWorker();
  port.on('message', (m: ToHealthThread) => {
    if (m.kind === 'status') {
      // GET /health/service's reads, made on this event loop: the HTTP thread's may be full (bench P6).
      readStatus(cg).then(
        (read) => post({ kind: 'status', id: m.id, read }),
        (err: unknown) => post({ kind: 'status', id: m.id, error: err instanceof Error ? err.message : String(err) }),
      );
    } else if (m.kind === 'metrics') {
      // Only what this thread counts; the main thread's own gauges read Redis themselves.
      void cg.metrics.registry.getMetricsAsJSON().then(
        (all) =>
          post({ kind: 'metrics', id: m.id, json: all.filter((x) => x.name.startsWith('callguard_') && String(x.type) !== 'gauge') }),
        () => post({ kind: 'metrics', id: m.id, json: [] }),
      );
    } else {
      cg.stop({ graceMs: cg.config.shutdownGraceMs }).then(
        () => post({ kind: 'stopped' }),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping the health worker');
          post({ kind: 'failed', message: String(err) });
        },
      );
    }
  });
  post({ kind: 'ready' });
} catch (err) {
  post({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
}
