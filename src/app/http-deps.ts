/** The HTTP layer's ports, built from the container: routers get these, never the Callguard. */
import { randomUUID } from 'node:crypto';
import { NotFoundError, RedisUnavailableError, UnknownRuleError, ValidationError } from '../domain/errors.js';
import { enqueueReport } from '../jobs/enqueue-report.js';
import type { AlertJob } from '../jobs/alert-job.js';
import { JOB } from '../jobs/contract.js';
import { SLACK_ACTION_JOB, slackPrincipal } from '../jobs/slack-action.js';
import { SIGNED_JOB_TTL_MS } from '../jobs/job-signer.js';
import { redisLimitStore } from '../http/middleware/limit-store.js';
import { readiness } from '../ops/readiness.js';
import type {
  ConsoleReads,
  HoldsPort,
  HttpDeps,
  IngestPort,
  OpsPort,
  RulesPort,
  SilencesPort,
  SlackPort,
  StatusSnapshot,
} from '../http/api/ports.js';
import { RulesStore } from '../store/rules-store.js';
import { chooseCandidate, heldRoutes } from '../store/guard.js';
import { GuardVerdict } from '../store/scripts.js';
import { dryRun } from '../engine/dry-run.js';
import type { Callguard } from './callguard.js';
import { SnapshotCache } from './snapshot-cache.js';
import { readStatus, type StatusRead } from './status-read.js';
import { withTimeout } from '../domain/timeout.js';
import { IdempotencyStore } from '../store/idempotency.js';
import { CountBatcher } from '../jobs/count-batcher.js';
import { AggregatorRegistry } from 'prom-client';
import type { ThreadMetrics } from './health-thread-host.js';

// GET /health/service reads a dozen things: requests share one read, never older than the max age;
// past the refresh age the next request starts a read in the background instead of waiting for it.
const STATUS_MAX_AGE_MS = 250;
const STATUS_REFRESH_MS = 50;

// A read the health thread does not answer in this time is made here instead.
const REMOTE_STATUS_TIMEOUT_MS = 1000;

function holdsPort(cg: Callguard, remote?: () => Promise<StatusRead>): HoldsPort {
  const local = () => readStatus(cg);
  const read = remote ? async () => await withTimeout<StatusRead | Promise<StatusRead>>(remote(), REMOTE_STATUS_TIMEOUT_MS, local) : local;
  const snapshot = new SnapshotCache(
    async (): Promise<Omit<StatusSnapshot, 'ageMs'>> => ({
      ...(await read()),
      rules: [...cg.rules],
      rulesVersion: cg.liveRules.version,
      autoPause: cg.config.autoPause,
    }),
    STATUS_MAX_AGE_MS,
    STATUS_REFRESH_MS,
  );
  // A hold change shows at once, not after the snapshot ages out.
  cg.emitter.on('changes', () => snapshot.invalidate(), 'status snapshot');
  cg.liveRules.onChange(() => snapshot.invalidate());
  cg.emitter.on('silences', () => snapshot.invalidate(), 'status snapshot');
  return {
    async status(): Promise<StatusSnapshot> {
      const { value, ageMs } = await snapshot.get();
      return { ...value, ageMs };
    },
    async pause(req) {
      // Redis' clock, not this host's: every instance and the expiry check agree on it.
      if (req.until !== undefined && req.until <= (await cg.ledger.now())) throw new ValidationError('body.until: must be in the future');
      const { hold, changes } = await cg.control.pause(req);
      return { hold, paused: changes.flatMap((c) => c.paused) };
    },
    async resume(req) {
      const { released, changes } = await cg.control.resume(req);
      return { released, resumed: changes.flatMap((c) => c.resumed) };
    },
    async release({ by, ids, reason }) {
      const held = new Set((await cg.ledger.list()).map((h) => h.id));
      const gone = ids.filter((id) => !held.has(id));
      if (gone.length) throw new NotFoundError(`holds: ${gone.join(', ')} not held (already released?); nothing was released`);
      const { released, changes } = await cg.control.releaseIds(ids, by, reason);
      return { released, resumed: changes.flatMap((c) => c.resumed) };
    },
    audit: (limit) => cg.ledger.audit(limit),
  };
}

function consoleReads(cg: Callguard): ConsoleReads {
  return {
    rules: cg.rules,
    queues: [...cg.dispatch.keys()],
    minuteMs: cg.config.minuteMs,
    autoResumeMinutes: cg.config.autoResumeMinutes,
    buckets: () => cg.counters.buckets(),
    holds: () => cg.ledger.list(),
    clearSince: () => cg.ledger.clearSince(),
    audit: (limit) => cg.ledger.audit(limit),
    paused: () => Promise.all([...cg.dispatch.values()].map((q) => q.isPaused())),
    failover: () => heldRoutes(cg.redis, cg.keys),
  };
}

function ingestPort(cg: Callguard): IngestPort {
  // Each batch is confirmed in time or cancelled, so a report answered 503 is never counted (enqueueReport).
  const batcher = new CountBatcher((counts, waitedMs) => enqueueReport(cg, counts, waitedMs), { intervalMs: cg.config.ingestBatchMs });
  return {
    rules: cg.rules,
    capacities: cg.liveRules.capacities,
    queues: cg.config.queues,
    reportCounts: (counts) => (cg.redisHealth.available() ? batcher.submit(counts) : Promise.reject(new RedisUnavailableError())),
    async chooseProvider(queue, candidates) {
      const a = await chooseCandidate(cg.redis, cg.keys, { queue, candidates, member: randomUUID() });
      return {
        ...(a.provider ? { provider: a.provider } : {}),
        waitMs: a.waitMs,
        held: a.held,
        queueHeld: a.verdict === GuardVerdict.QueueHeld,
      };
    },
    async reportOutcomes(outcomes) {
      const jobId = `outcomes-${randomUUID()}`;
      return (await cg.events.add(JOB.errorReport, { outcomes }, { jobId })).id ?? null;
    },
    async enqueueAlert(events, by) {
      // Stamped with Redis' clock: instances with skewed clocks still order firing and resolved notices right.
      const now = await cg.ledger.now();
      const jobId = `alert-${randomUUID()}`;
      const data: AlertJob = cg.signer.sign({ alerts: events, enqueued_at: now }, by, { jobId, expiresAt: now + SIGNED_JOB_TTL_MS });
      return (await cg.events.add(JOB.alert, data, { jobId })).id ?? null;
    },
  };
}

function rulesPort(cg: Callguard): RulesPort {
  const live = cg.liveRules;
  const store = new RulesStore(cg.redis, cg.keys);
  const active = async () => {
    const v = await store.active();
    if (!v) throw new NotFoundError('rules: the store holds no version');
    return v;
  };
  return {
    mode: live.mode,
    reportedProviders: () => cg.counters.reportedProviders(),
    active,
    versions: () => store.versions(),
    check(content) {
      const { warnings, changes } = live.check(content);
      return { warnings, changes, version: live.version };
    },
    publish: ({ content, expected, by }) => live.publish({ content, expected, by, source: 'api' }),
    dryRun: (content) =>
      dryRun(
        {
          history: cg.history,
          ledger: cg.ledger,
          silences: cg.silencer,
          minuteMs: cg.config.minuteMs,
          autoResumeMinutes: cg.config.autoResumeMinutes,
          autoPause: cg.config.autoPause,
        },
        live.check(content).rules,
        [...cg.rules],
      ),
    async rollback({ version, by }) {
      const [target, current] = await Promise.all([store.version(version), active()]);
      if (!target) throw new NotFoundError(`rules: version ${version} is not among the kept versions`);
      return live.publish({
        content: target.content,
        expected: current.version,
        by,
        source: 'rollback',
        reason: `rolled back to version ${version} by ${by}`,
      });
    },
  };
}

// A silence is for an incident, not a way to switch a rule off: that is a rules change.
const MAX_SILENCE_MS = 30 * 24 * 3600 * 1000;

function silencesPort(cg: Callguard): SilencesPort {
  return {
    list: () => cg.silencer.list(),
    async add({ rules, providers, queues, until, reason, by }) {
      const now = await cg.ledger.now();
      if (until <= now) throw new ValidationError('body.until: must be in the future');
      if (until - now > MAX_SILENCE_MS)
        throw new ValidationError('body.until: at most 30 days ahead; to switch a rule off, change the rules');
      const names = new Set(cg.rules.map((r) => r.name));
      const unknown = rules.filter((r) => !names.has(r));
      if (unknown.length)
        throw new UnknownRuleError(`body.rules: unknown rule(s) ${unknown.join(', ')}; configured: ${[...names].join(', ')}`);
      const badQueues = (queues ?? []).filter((q) => !cg.config.queues.includes(q));
      if (badQueues.length)
        throw new ValidationError(`body.queues: ${badQueues.join(', ')} not in CALLGUARD_QUEUES (${cg.config.queues.join(', ')})`);
      const id = `silence-${randomUUID()}`;
      return cg.silencer.add({ id, rules, ...(providers ? { providers } : {}), ...(queues ? { queues } : {}), until, reason, by });
    },
    end: (id, by) => cg.silencer.end(id, by),
  };
}

function opsPort(cg: Callguard, moreMetrics?: () => Promise<ThreadMetrics>): OpsPort {
  const { registry } = cg.metrics;
  return {
    readiness: () => readiness(cg),
    async metrics() {
      if (!moreMetrics) return { contentType: registry.contentType, text: await registry.metrics() };
      // Counters of the health thread (npm start) add up with this thread's, as prom-client does for cluster workers.
      const merged = AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), await moreMetrics()]);
      return { contentType: registry.contentType, text: await merged.metrics() };
    },
  };
}

function slackPort(cg: Callguard): SlackPort {
  return {
    ...(cg.config.slack.signingSecret ? { signingSecret: cg.config.slack.signingSecret } : {}),
    admins: cg.config.slack.admins,
    replay: cg.replay,
    async enqueueAction(action, pressId) {
      // Signed for its job id: without Slack's action timestamp, a fresh id.
      const jobId = pressId ?? `slack-action-${randomUUID()}`;
      const expiresAt = (await cg.ledger.now()) + SIGNED_JOB_TTL_MS;
      await cg.events.add(SLACK_ACTION_JOB, cg.signer.sign(action, slackPrincipal(action.userId), { jobId, expiresAt }), {
        jobId,
        attempts: 3,
        backoff: { type: 'exponential', delay: 500 },
      });
    },
  };
}

/**
 * What createApp / startHttpServer need, from one Callguard. `readStatus`: the status snapshot's
 * Redis reads made elsewhere (npm start: on the health thread, whose event loop HTTP load does not
 * fill), so the snapshot's age stays bounded however busy this thread is (bench P6).
 */
export function httpDeps(
  cg: Callguard,
  opts: { moreMetrics?: () => Promise<ThreadMetrics>; readStatus?: () => Promise<StatusRead> } = {},
): HttpDeps {
  const { config } = cg;
  const holds = holdsPort(cg, opts.readStatus);
  return {
    settings: {
      port: config.port,
      trustProxy: config.trustProxy,
      metricsPublic: config.metricsPublic,
      loginAttempts: config.loginAttempts,
      grafanaUntimedSignatures: config.grafanaUntimedSignatures,
      users: config.users,
      ...(config.webhookSecret ? { webhookSecret: config.webhookSecret } : {}),
    },
    redisHealth: cg.redisHealth,
    holds,
    ingest: ingestPort(cg),
    ops: opsPort(cg, opts.moreMetrics),
    rules: rulesPort(cg),
    silences: silencesPort(cg),
    slack: slackPort(cg),
    board: { dispatch: [...cg.dispatch.values()], events: cg.events, notifications: cg.notifier.queue, holds },
    console: consoleReads(cg),
    sessions: { redis: cg.redis, prefix: cg.keys.sessionPrefix, ...(config.sessionSecret ? { secret: config.sessionSecret } : {}) },
    replay: cg.replay,
    idempotency: new IdempotencyStore(cg.redis, cg.keys),
    limitStore: (limiter) => redisLimitStore(cg.redis, cg.keys, limiter),
    logger: cg.logger,
  };
}
