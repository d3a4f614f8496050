import { Worker } from 'node:worker_threads';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Logger } from '../ops/logger.js';
import type { FromHealthThread, ToHealthThread } from './health-thread.js';
import type { StatusRead } from './status-read.js';

export type ThreadMetrics = Array<MetricObjectWithValues<MetricValue<string>>>;

export interface HealthThread {
  /** The thread's own counters and histograms (events jobs, evaluations, hold changes), for /metrics. */
  metrics(): Promise<ThreadMetrics>;
  /** GET /health/service's Redis reads, made on the thread (see src/app/status-read.ts). */
  readStatus(): Promise<StatusRead>;
  /** Lets its running jobs finish (CALLGUARD_SHUTDOWN_GRACE_SECONDS) and ends the thread. */
  stop(): Promise<void>;
}

const METRICS_TIMEOUT_MS = 1000;

/**
 * Starts src/app/health-thread and resolves once its worker runs. A thread that ends unasked
 * ends the process (exit 1): an API that accepts reports with nobody counting them fails open.
 */
export function startHealthThread(logger: Logger): Promise<HealthThread> {
  // Under tsx (npm run dev, the tests) this module is .ts, and so is the thread's entry: the thread
  // registers tsx's loader first (a worker thread does not inherit it).
  const entry = new URL(`./health-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  const thread = entry.pathname.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true })
    : new Worker(entry);
  let stopping = false;
  let nextId = 0;
  const pending = new Map<number, (json: ThreadMetrics) => void>();
  const reads = new Map<number, { resolve: (r: StatusRead) => void; reject: (e: Error) => void }>();
  const send = (m: ToHealthThread) => thread.postMessage(m);
  const stopped = new Promise<void>((resolve, reject) => {
    thread.on('message', (m: FromHealthThread) => {
      if (m.kind === 'stopped') resolve();
      if (m.kind === 'failed' && stopping) reject(new Error(m.message));
    });
  });
  stopped.catch(() => undefined);

  return new Promise((resolve, reject) => {
    thread.on('message', (m: FromHealthThread) => {
      if (m.kind === 'ready') {
        resolve({
          metrics: () =>
            new Promise((done) => {
              const id = ++nextId;
              const timer = setTimeout(() => pending.delete(id) && done([]), METRICS_TIMEOUT_MS);
              pending.set(id, (json) => {
                clearTimeout(timer);
                done(json);
              });
              send({ kind: 'metrics', id });
            }),
          readStatus: () =>
            new Promise((resolve, reject) => {
              const id = ++nextId;
              reads.set(id, { resolve, reject });
              send({ kind: 'status', id });
            }),
          async stop() {
            stopping = true;
            send({ kind: 'stop' });
            await stopped;
            await thread.terminate();
          },
        });
      } else if (m.kind === 'metrics') {
        pending.get(m.id)?.(m.json as ThreadMetrics);
        pending.delete(m.id);
      } else if (m.kind === 'status') {
        const r = reads.get(m.id);
        reads.delete(m.id);
        if (m.read) r?.resolve(m.read);
        else r?.reject(new Error(m.error ?? 'status read failed'));
      } else if (m.kind === 'failed' && !stopping) {
        reject(new Error(m.message));
      }
    });
    thread.on('error', (err) => {
      if (stopping) return;
      logger.fatal({ err }, 'health worker thread failed');
      reject(err);
    });
    thread.on('exit', (code) => {
      if (stopping) return;
      logger.fatal({ code }, 'health worker thread ended; stopping (nothing would count reports)');
      process.exit(1);
    });
  });
}
