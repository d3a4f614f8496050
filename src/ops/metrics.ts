import type { Worker } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../store/counters.js';
import { effectOf } from '../domain/hold.js';
import type { HoldChange, HoldLedger } from '../store/holds.js';
import type { Rule } from '../domain/types.js';
import type { Queue } from 'bullmq';

export interface MetricsDeps {
  rules: Rule[];
  counters: Counters;
  ledger: HoldLedger;
  dispatch: Map<string, Queue>;
}

/**
 * Prometheus metrics of one callguard instance, on its own registry (several instances can live
 * in one process, as in tests). Gauges read Redis at scrape time; counters count what this
 * instance did, so a Prometheus sum over instances gives the cluster's totals.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly transitions: Counter<'event' | 'cause'>;
  private readonly evaluations: Histogram<'kind'>;
  private readonly ingest: Counter<'job' | 'outcome'>;
  private readonly notificationFailures: Counter<'final'>;

  constructor(deps: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'callguard_' });

    new Gauge({
      name: 'callguard_rule_errors_in_window', help: 'Errors counted over each rule\'s window (Redis clock).', labelNames: ['rule'], registers,
      async collect() {
        const { counts } = await deps.counters.sums();
        for (const [rule, n] of Object.entries(counts)) this.set({ rule }, n);
      },
    });
    const threshold = new Gauge({ name: 'callguard_rule_threshold', help: 'Errors in the window at which each rule trips.', labelNames: ['rule'], registers });
    const windowMinutes = new Gauge({ name: 'callguard_rule_window_minutes', help: 'Window of each rule, in callguard minutes.', labelNames: ['rule'], registers });
    for (const r of deps.rules) {
      threshold.set({ rule: r.name }, r.thresholdCount);
      windowMinutes.set({ rule: r.name }, r.windowMinutes);
    }
    new Gauge({
      name: 'callguard_holds', help: 'Current holds by kind and effect.', labelNames: ['kind', 'effect'], registers,
      async collect() {
        this.reset();
        for (const h of await deps.ledger.list()) this.inc({ kind: h.kind, effect: effectOf(h) });
      },
    });
    new Gauge({
      name: 'callguard_queue_paused', help: '1 when the dispatch queue is paused in BullMQ.', labelNames: ['queue'], registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, (await q.isPaused()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'callguard_queue_waiting_jobs', help: 'Jobs waiting in each dispatch queue (paused jobs count as waiting).', labelNames: ['queue'], registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, await q.getWaitingCount());
      },
    });
    new Gauge({
      name: 'callguard_queue_probe_limit_per_minute', help: 'Global rate limit a half-open probe puts on the queue (0: none).', labelNames: ['queue'], registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, (await q.getGlobalRateLimit())?.max ?? 0);
      },
    });
    this.transitions = new Counter({
      name: 'callguard_transitions_total',
      help: 'Hold changes this instance made: event hold-added (a pause), hold-released (a resume), would-pause / would-resume (shadow), probe-started / probe-ended; cause is the hold kind.',
      labelNames: ['event', 'cause'], registers,
    });
    this.evaluations = new Histogram({
      name: 'callguard_evaluator_duration_seconds', help: 'Time to evaluate rules: kind full (the scheduled tick) or fast (right after counting).',
      labelNames: ['kind'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    });
    this.ingest = new Counter({ name: 'callguard_ingest_jobs_total', help: 'Events-queue jobs processed by this instance.', labelNames: ['job', 'outcome'], registers });
    this.notificationFailures = new Counter({
      name: 'callguard_notification_failures_total', help: 'Failed notification sends; final="true" when no retry is left.', labelNames: ['final'], registers,
    });
  }

  readonly onChanges = (changes: HoldChange[]): void => {
    for (const c of changes) this.transitions.inc({ event: c.event, cause: c.hold.kind });
  };

  readonly onEvaluated = (seconds: number, full: boolean): void => {
    this.evaluations.observe({ kind: full ? 'full' : 'fast' }, seconds);
  };

  observeEvents(worker: Worker): void {
    worker.on('completed', (job) => this.ingest.inc({ job: job.name, outcome: 'completed' }));
    worker.on('failed', (job) => this.ingest.inc({ job: job?.name ?? 'unknown', outcome: 'failed' }));
  }

  observeNotifications(worker: Worker): void {
    worker.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      this.notificationFailures.inc({ final: String(final) });
    });
  }
}
