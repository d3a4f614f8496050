import type { Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../store/counters.js';
import { effectOf, parseTarget } from '../domain/hold.js';
import { readsOutcomes, verdict } from '../domain/outcomes.js';
import { HOLD_CHANGE_EVENTS, type HoldChange, type HoldLedger } from '../store/holds.js';
import type { HoldKind, Rule } from '../domain/types.js';
import { JOB } from '../jobs/contract.js';
import { silenceOf, type Silence } from '../domain/silence.js';
import { SLACK_ACTION_JOB } from '../jobs/slack-action.js';

export interface MetricsDeps {
  rules: Rule[];
  counters: Counters;
  ledger: HoldLedger;
  dispatch: Map<string, Queue>;
  /** callguard's own `events` queue (depth and age of its backlog). */
  events: Queue;
  /** Length of a callguard minute: windows are exported in real seconds. */
  minuteMs: number;
  /** The rules version in force here and whether this instance's file differs from it. */
  liveRules?: { readonly version: number; readonly fileDiffers: boolean };
  /** Jobs failed over, counted by the guards in Redis (read at scrape time). */
  failovers?: () => Promise<Array<{ queue: string; from: string; to: string; jobs: number }>>;
  /** Silences in force (read at scrape time). */
  silences?: { list(): Promise<Silence[]> };
}

// `satisfies Record<…>` makes the compiler fail when a kind is added and not listed here.
const HOLD_KINDS = Object.keys({ rule: 1, alert: 1, manual: 1 } satisfies Record<HoldKind, 1>);
const EVENT_JOBS = [...Object.values(JOB), SLACK_ACTION_JOB];
const EVENTS_BACKLOG_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

// Gauges named *_total break Prometheus' naming rules (promtool flags them); the same figures stay
// available, split by type, as nodejs_active_handles / _requests / _resources.
const DROPPED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Prometheus metrics of one callguard instance, on its own registry (several instances can live
 * in one process, as in tests). Gauges read Redis at scrape time; counters count what this
 * instance did, so a Prometheus sum over instances gives the cluster's totals. Every counter has
 * its series from the start (at 0), so rate() and increase() see the first increment.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly transitions: Counter<'event' | 'cause'>;
  private readonly evaluations: Histogram<'kind'>;
  private readonly ingest: Counter<'job' | 'outcome'>;
  private readonly errors: Counter<'rule'>;
  private readonly notificationFailures: Counter<'final'>;
  private readonly stateLost: Counter;
  private readonly reportDrops: Counter<'reason'>;

  constructor(deps: MetricsDeps) {
    const registers = [this.registry];
    // Standard names (no prefix), so stock Node.js dashboards work.
    collectDefaultMetrics({ register: this.registry });
    for (const name of DROPPED_DEFAULTS) this.registry.removeSingleMetric(name);
    // A scrape collects every gauge at once: the two gauges of window sums share one read.
    let reading: ReturnType<Counters['sums']> | undefined;
    const windowSums = () => (reading ??= deps.counters.sums().finally(() => (reading = undefined)));

    new Gauge({
      name: 'callguard_rule_errors_in_window',
      help: "Errors counted over each rule's window (Redis clock).",
      labelNames: ['rule'],
      registers,
      async collect() {
        const { counts } = await windowSums();
        for (const r of deps.rules) this.set({ rule: r.name }, counts[r.name] ?? 0);
      },
    });
    new Gauge({
      name: 'callguard_rule_calls_in_window',
      help: "Calls of a rate rule's providers over its window (Redis clock): all, failed, and slower than slow_call_ms.",
      labelNames: ['rule', 'outcome'],
      registers,
      async collect() {
        const { counts } = await windowSums();
        for (const r of deps.rules.filter(readsOutcomes)) {
          const v = verdict(r, counts);
          this.set({ rule: r.name, outcome: 'all' }, v.calls);
          this.set({ rule: r.name, outcome: 'failed' }, v.failures);
          this.set({ rule: r.name, outcome: 'slow' }, v.slow);
        }
      },
    });
    new Gauge({
      name: 'callguard_provider_held',
      help: '1 for each queue and provider whose jobs a provider hold keeps back (guarded workers park them).',
      labelNames: ['queue', 'provider'],
      registers,
      async collect() {
        this.reset();
        for (const t of await deps.ledger.coveredProviders()) {
          const { queue, provider = '' } = parseTarget(t);
          this.set({ queue, provider }, 1);
        }
      },
    });
    if (deps.failovers) {
      const read = deps.failovers;
      // Counted by every guard in Redis: the same figure on every instance (take max, not sum).
      new Counter({
        name: 'callguard_jobs_failed_over_total',
        help: 'Jobs a guard ran on another candidate than their first choice `from` (held, full, or failed on before), across every worker.',
        labelNames: ['queue', 'from', 'to'],
        registers,
        async collect() {
          this.reset();
          for (const f of await read()) this.inc({ queue: f.queue, from: f.from, to: f.to }, f.jobs);
        },
      });
    }
    // Read at scrape time: the rules are those of the version in force.
    new Gauge({
      name: 'callguard_rule_threshold',
      help: 'Errors in the window at which each rule trips.',
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const r of deps.rules) if (r.thresholdCount !== undefined) this.set({ rule: r.name }, r.thresholdCount);
      },
    });
    new Gauge({
      name: 'callguard_rule_window_seconds',
      help: 'Window of each rule in seconds (window_minutes times CALLGUARD_MINUTE_SECONDS).',
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const r of deps.rules) this.set({ rule: r.name }, (r.windowMinutes * deps.minuteMs) / 1000);
      },
    });
    if (deps.silences) {
      const store = deps.silences;
      new Gauge({
        name: 'callguard_rule_silenced',
        help: 'Until when each silenced rule is silenced (Unix seconds, Redis clock); absent: not silenced.',
        labelNames: ['rule'],
        registers,
        async collect() {
          this.reset();
          const [silences, now] = await Promise.all([store.list(), deps.ledger.now()]);
          for (const r of deps.rules) {
            const s = silenceOf(r, silences, now);
            if (s) this.set({ rule: r.name }, s.until / 1000);
          }
        },
      });
    }
    if (deps.liveRules) {
      const live = deps.liveRules;
      new Gauge({
        name: 'callguard_rules_version',
        help: 'The rules version this instance evaluates (the active version in Redis once it has picked it up).',
        registers,
        collect() {
          this.set(live.version);
        },
      });
      new Gauge({
        name: 'callguard_rules_file_differs',
        help: "1 when this instance's rules file is not the active version (CALLGUARD_RULES_SOURCE=file; it follows the active one).",
        registers,
        collect() {
          this.set(live.fileDiffers ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'callguard_holds',
      help: 'Current holds by kind and effect.',
      labelNames: ['kind', 'effect'],
      registers,
      async collect() {
        this.reset();
        for (const h of await deps.ledger.list()) this.inc({ kind: h.kind, effect: effectOf(h) });
      },
    });
    new Gauge({
      name: 'callguard_hold_since_timestamp_seconds',
      help: "When each current hold was placed (Unix seconds, Redis clock); time() minus it is the hold's age.",
      labelNames: ['hold', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const h of await deps.ledger.list()) this.set({ hold: h.id, kind: h.kind }, h.since / 1000);
      },
    });
    new Gauge({
      name: 'callguard_queue_paused',
      help: '1 when the dispatch queue is paused in BullMQ.',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, (await q.isPaused()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'callguard_queue_waiting_jobs',
      help: 'Jobs waiting in each dispatch queue (paused jobs count as waiting).',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, await q.getWaitingCount());
      },
    });
    new Gauge({
      name: 'callguard_queue_probe_limit_per_minute',
      help: 'Global rate limit a half-open probe puts on the queue (0: none).',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [name, q] of deps.dispatch) this.set({ queue: name }, (await q.getGlobalRateLimit())?.max ?? 0);
      },
    });
    new Gauge({
      name: 'callguard_events_queue_jobs',
      help: "Jobs in callguard's events queue by state (waiting is the backlog of error reports and alerts).",
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await deps.events.getJobCounts(...EVENTS_BACKLOG_STATES);
        for (const state of EVENTS_BACKLOG_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'callguard_events_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest job waiting in the events queue (0 when none waits).',
      registers,
      async collect() {
        const [oldest] = await deps.events.getJobs(['wait'], 0, 0, true);
        this.set(oldest ? Math.max(0, ((await deps.ledger.now()) - oldest.timestamp) / 1000) : 0);
      },
    });

    this.transitions = new Counter({
      name: 'callguard_transitions_total',
      help: 'Hold changes this instance made: event hold-added (a pause), hold-released (a resume), would-pause / would-resume (shadow), probe-started / probe-ended; cause is the hold kind.',
      labelNames: ['event', 'cause'],
      registers,
    });
    for (const event of HOLD_CHANGE_EVENTS) for (const cause of HOLD_KINDS) this.transitions.inc({ event, cause }, 0);
    this.evaluations = new Histogram({
      name: 'callguard_evaluator_duration_seconds',
      help: 'Time to evaluate rules: kind full (the scheduled tick) or fast (right after counting).',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    for (const kind of ['full', 'fast']) this.evaluations.zero({ kind });
    this.ingest = new Counter({
      name: 'callguard_ingest_jobs_total',
      help: 'Events-queue jobs processed by this instance.',
      labelNames: ['job', 'outcome'],
      registers,
    });
    for (const job of EVENT_JOBS) for (const outcome of ['completed', 'failed']) this.ingest.inc({ job, outcome }, 0);
    this.errors = new Counter({
      name: 'callguard_errors_total',
      help: 'Errors this instance counted for each rule (rate() of it is the error rate).',
      labelNames: ['rule'],
      registers,
    });
    for (const r of deps.rules) this.errors.inc({ rule: r.name }, 0);
    this.notificationFailures = new Counter({
      name: 'callguard_notification_failures_total',
      help: 'Failed notification sends; final="true" when no retry is left.',
      labelNames: ['final'],
      registers,
    });
    for (const final of ['true', 'false']) this.notificationFailures.inc({ final }, 0);
    this.reportDrops = new Counter({
      name: 'callguard_report_counts_dropped_total',
      help: 'Error counts left out of error-report jobs (the rest of each batch was counted), by reason: unknown_rule, invalid_rule.',
      labelNames: ['reason'],
      registers,
    });
    this.stateLost = new Counter({
      name: 'callguard_state_lost_total',
      help: "Times this instance found callguard's Redis state gone (holds or schedule lost, e.g. a Redis restart without persistence).",
      registers,
    });
  }

  readonly onChanges = (changes: HoldChange[]): void => {
    for (const c of changes) this.transitions.inc({ event: c.event, cause: c.hold.kind });
  };

  readonly onEvaluated = (seconds: number, full: boolean): void => {
    this.evaluations.observe({ kind: full ? 'full' : 'fast' }, seconds);
  };

  /** For the error-report job: counts it left out, by why (unknown_rule, invalid_rule); the rest of the batch counted. */
  readonly onReportDropped = (reason: string, count: number): void => {
    this.reportDrops.inc({ reason }, count);
  };

  /** For the detector of lost Redis state. */
  readonly onStateLost = (): void => {
    this.stateLost.inc();
  };

  observeEvents(worker: Worker): void {
    worker.on('completed', (job) => {
      this.ingest.inc({ job: job.name, outcome: 'completed' });
      // An error report returns what it counted; only that reaches the counter.
      if (job.name === JOB.errorReport) {
        const counted = (job.returnvalue as { counted?: Record<string, number> } | undefined)?.counted ?? {};
        for (const [rule, n] of Object.entries(counted)) this.errors.inc({ rule }, n);
      }
    });
    worker.on('failed', (job) => this.ingest.inc({ job: job?.name ?? 'unknown', outcome: 'failed' }));
  }

  observeNotifications(worker: Worker): void {
    worker.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      this.notificationFailures.inc({ final: String(final) });
    });
  }
}
