/**
 * What the HTTP layer may ask of callguard: small ports, built by the composition root
 * (src/app/http-deps.ts). Routers never see Redis, keys, raw queues or the ledger's clock.
 */
import type { ProviderOutcomes } from '../../domain/outcomes.js';
import type { Queue } from 'bullmq';
import type { Store } from 'express-rate-limit';
import type { RedisClient } from '../../store/redis.js';
import type { AlertEvent } from '../../domain/alerts.js';
import type { Principal } from '../auth/principals.js';
import type { Hold, Rule } from '../../domain/types.js';
import type { Capacities } from '../../domain/rules.js';
import type { AuditEntry } from '../../store/holds.js';
import type { HeldRoute } from '../../store/guard.js';
import type { RulesChange, RulesVersion } from '../../domain/rules-doc.js';
import type { Silence } from '../../domain/silence.js';
import type { DryRunResult } from '../../engine/dry-run.js';
import type { SlackAction } from '../../jobs/slack-action.js';
import type { Logger } from '../../ops/logger.js';
import type { Readiness } from '../../ops/readiness.js';

/** Everything GET /health/service shows, as read from Redis and the queues at one moment. */
export interface StatusSnapshot {
  holds: Hold[];
  rules: Rule[];
  /** Error counts in each rule's window. */
  counts: Record<string, number>;
  clearSince: Record<string, number>;
  queues: Record<string, { paused: boolean; held: boolean; counts: Record<string, number> }>;
  eventCounts: Record<string, number>;
  autoPause: 'on' | 'shadow' | 'off';
  /** The rules version `rules` are. */
  rulesVersion: number;
  /** Stored silences (those whose until has passed end at the next evaluation). */
  silences: Silence[];
  /** Each held provider: where its jobs go (failover) and how many went. */
  failover: HeldRoute[];
  /** Redis' clock, ms. */
  now: number;
  /** How long ago these were read (requests close together share one read). */
  ageMs: number;
}

/** The holds as people change them (API, Bull Board). `by` is always the authenticated principal. */
export interface HoldsPort {
  status(): Promise<StatusSnapshot>;
  /** Refuses (ValidationError) an `until` that is not in the future by Redis' clock. */
  pause(req: {
    by: string;
    reason?: string;
    queues?: string[];
    providers?: string[];
    until?: number;
  }): Promise<{ hold: Hold; paused: string[] }>;
  resume(req: { by: string; queues?: string[]; reason?: string }): Promise<{ released: Hold[]; resumed: string[] }>;
  /** Releases exactly these holds; if one is not held (any more), releases none (NotFoundError). */
  release(req: { by: string; ids: string[]; reason: string }): Promise<{ released: Hold[]; resumed: string[] }>;
  /** Newest first. */
  audit(limit: number): Promise<AuditEntry[]>;
}

/** Counts and alerts from other systems, each batch one job on the events queue. */
/** One call's provider: the first candidate not held and with room, or none (then how long to wait). */
export interface ProviderChoice {
  provider?: string;
  waitMs: number;
  held: string[];
  queueHeld: boolean;
}

export interface IngestPort {
  rules: readonly Rule[];
  /** The rules in force' provider capacities (their `providers` section). */
  capacities: Readonly<Capacities>;
  /** The configured dispatch queues. */
  queues: readonly string[];
  /** Enqueues the counts (none: nothing enqueued); the job id, or null. */
  reportCounts(counts: Record<string, number>): Promise<string | null>;
  /** The guard's choice among candidate providers for one call (its slot taken). */
  chooseProvider(queue: string, candidates: string[]): Promise<ProviderChoice>;
  /** Enqueues call outcomes per provider as one error-report job; its id. */
  reportOutcomes(outcomes: Record<string, ProviderOutcomes>): Promise<string | null>;
  /** Signed with the principal that sent them: the worker refuses a job whose principal was forged. */
  enqueueAlert(events: AlertEvent[], by: Principal): Promise<string | null>;
}

/** Signed requests (webhooks, Slack) accepted once: each signature is remembered while it could be replayed. */
export interface ReplayPort {
  /** True the first time a signature is seen; false for a repeat (remembered until `validUntil` on Redis' clock, else `untimedMs`). */
  firstUse(kind: string, signature: string, validUntil: number | undefined, untimedMs: number): Promise<boolean>;
  /** Undoes firstUse when the request it admitted could not be carried out, so the sender's retry is not refused. */
  forget(kind: string, signature: string): Promise<void>;
}

/** The shared, versioned rules (src/engine/live-rules.ts). */
export interface RulesPort {
  /** The providers workers have reported outcomes for (sorted); rules naming others count nothing. */
  reportedProviders(): Promise<string[]>;
  /** CALLGUARD_RULES_SOURCE: in file mode publish and rollback answer 409. */
  mode: 'file' | 'redis';
  /** The active version as stored now (not this instance's copy, which may be up to a poll behind). */
  active(): Promise<RulesVersion>;
  /** Newest first, bounded. */
  versions(): Promise<RulesVersion[]>;
  /** Validated as at start-up (ValidationError naming rule and field), diffed against the active version. */
  check(content: unknown): { warnings: string[]; changes: RulesChange[]; version: number };
  /** 412 (PreconditionFailedError) when `expected` is not the active version; nothing changes. */
  publish(req: { content: unknown; expected: number; by: string }): Promise<RulesVersion>;
  /** The content of a kept version, published as the next one. */
  rollback(req: { version: number; by: string }): Promise<RulesVersion>;
  /** What the proposal would do now and over the kept 24 h (validated as check()). Changes nothing. */
  dryRun(content: unknown): Promise<DryRunResult>;
}

/** Silences: rules muted until a time (src/engine/silencer.ts). */
export interface SilencesPort {
  list(): Promise<Silence[]>;
  /** Refuses (ValidationError) an until not in the future by Redis' clock, unknown rules or queues, or a full store. */
  add(req: { rules: string[]; providers?: string[]; queues?: string[]; until: number; reason: string; by: string }): Promise<Silence>;
  /** NotFoundError when it is not in force. */
  end(id: string, by: string): Promise<Silence>;
}

export interface OpsPort {
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ contentType: string; text: string }>;
}

/** POST /slack/interactions. */
export interface SlackPort {
  signingSecret?: string;
  /** Slack user ids allowed to press Resume. */
  admins: string[];
  /** `jobId` makes a press Slack delivers twice one job. Signed with the presser as principal. */
  enqueueAction(action: SlackAction, jobId?: string): Promise<void>;
  /** Each signed press is accepted once. */
  replay: ReplayPort;
}

/** The Bull Board: the queues it shows and the holds its pause/resume buttons place. */
export interface BoardDeps {
  dispatch: Queue[];
  /** callguard's own queues: the events queue (never paused) first, then notifications. */
  events: Queue;
  notifications: Queue;
  holds: Pick<HoldsPort, 'pause' | 'resume'>;
}

/** Bull Board browser sessions, stored in Redis under callguard's prefix. */
export interface SessionDeps {
  redis: RedisClient;
  prefix: string;
  /** Without one, sessions end when the process restarts. */
  secret?: string;
}

/** What the operator console reads to draw its page. */
export interface ConsoleReads {
  rules: readonly Rule[];
  /** The configured dispatch queues, in order. */
  queues: readonly string[];
  minuteMs: number;
  autoResumeMinutes: number;
  /** Each rule's window as counts per minute, oldest first, on Redis' clock. */
  buckets(): Promise<{ now: number; buckets: Record<string, number[]> }>;
  holds(): Promise<Hold[]>;
  clearSince(): Promise<Record<string, number>>;
  audit(limit: number): Promise<AuditEntry[]>;
  /** Whether each of `queues` is paused in BullMQ, in the same order. */
  paused(): Promise<boolean[]>;
  /** Each held provider: where its jobs go (failover) and how many went. */
  failover(): Promise<HeldRoute[]>;
}

/** Answers remembered by Idempotency-Key (see src/store/idempotency.ts). */
export interface IdempotencyPort {
  /** `full`: the principal already holds its quota of live keys (nothing was stored). */
  begin(
    key: string,
    principal: string,
  ): Promise<{ state: 'new' } | { state: 'pending' } | { state: 'full' } | { state: 'done'; reply: unknown }>;
  finish(key: string, reply: unknown): Promise<void>;
  abandon(key: string): Promise<void>;
}

export interface HttpSettings {
  port: number;
  trustProxy: string | boolean | number;
  metricsPublic: boolean;
  webhookSecret?: string;
  /** CALLGUARD_GRAFANA_UNTIMED_SIGNATURES: accept Grafana's replayable body-only signature. */
  grafanaUntimedSignatures: boolean;
  loginAttempts: number;
  /** CALLGUARD_USERS as configured. */
  users: string;
}

export interface HttpDeps {
  settings: HttpSettings;
  /** Whether Redis serves right now: /health routes answer 503 fast while it does not. */
  redisHealth: { available(): boolean };
  holds: HoldsPort;
  ingest: IngestPort;
  ops: OpsPort;
  rules: RulesPort;
  silences: SilencesPort;
  slack: SlackPort;
  board: BoardDeps;
  sessions: SessionDeps;
  console: ConsoleReads;
  replay: ReplayPort;
  idempotency: IdempotencyPort;
  /** A rate-limit store shared by every instance (Redis), one per limiter name. */
  limitStore(limiter: string): Store;
  logger: Logger;
}
