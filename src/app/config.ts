import { z } from 'zod';
import { assertClusterPrefixes, clientEnvShape, csv, parseEnv } from '../client/config.js';
import type { HostPort } from '../store/redis.js';
import { weakSecretReason } from '../domain/secret-strength.js';

/** A secret of callguard's own: long enough and not the .env.example placeholder. */
const secret = z.string().superRefine((value, ctx) => {
  const weak = weakSecretReason(value);
  if (weak) ctx.addIssue({ code: 'custom', message: weak });
});

const positiveNumber = z.coerce.number().positive();

/** Every environment variable callguard reads, each documented where it is declared. */
const schema = z.object({
  /** REDIS_URL, CALLGUARD_RULES, CALLGUARD_QUEUES, CALLGUARD_PREFIX, CALLGUARD_FLUSH_MS: what the client reads too. */
  ...clientEnvShape,
  /**
   * Where the active rules come from. file: the rules file; a booting instance whose file differs
   * from the active version publishes it, and API edits are refused. redis: the versioned rules
   * in Redis, edited through the API; the file only seeds an empty store.
   */
  CALLGUARD_RULES_SOURCE: z.enum(['file', 'redis']).default('file'),
  /** BullMQ prefix of the dispatch queues; on Redis Cluster it needs a hash tag, e.g. {bull}. */
  CALLGUARD_QUEUE_PREFIX: z.string().min(1).default('bull'),
  /** Length of one "minute" in seconds: buckets, windows, evaluator period, resume delay. */
  CALLGUARD_MINUTE_SECONDS: positiveNumber.default(60),
  /** Minutes a rule must stay continuously below threshold before its hold is released. */
  CALLGUARD_AUTO_RESUME_MINUTES: z.coerce.number().nonnegative().default(5),
  /**
   * Alert holds kept one per alert; alerts firing beyond this many join one overflow hold
   * (`alert:overflow`, every queue) that stays until all of them resolve, so a flood of alerts
   * can neither grow the holds without bound nor open the kill switch.
   */
  CALLGUARD_MAX_ALERT_HOLDS: z.coerce.number().int().min(1).max(100_000).default(200),
  /** on: rules pause queues; shadow: rules record "would have paused" instead; off: rules are counted but never pause. */
  CALLGUARD_AUTO_PAUSE: z.enum(['on', 'shadow', 'off']).default('on'),
  /** HTTP port of the admin API and Bull Board. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Principals: comma list of name:role:secret, role one of admin, viewer, alerts. Empty: a random admin secret is generated and printed once. */
  CALLGUARD_USERS: z.string().default(''),
  /** Secret for browser session cookies; random per process when unset (sessions then end on restart). */
  CALLGUARD_SESSION_SECRET: secret.optional(),
  /** HMAC secret accepted on POST /health/alert besides bearer tokens (Grafana and X-Callguard-Signature). */
  CALLGUARD_WEBHOOK_SECRET: secret.optional(),
  /**
   * true: also accept Grafana's body-only signature (X-Grafana-Alerting-Signature without
   * X-Grafana-Alerting-Timestamp). It has no timestamp, so a captured request can be replayed at
   * any time; prefer configuring the timestamp header on the contact point.
   */
  CALLGUARD_GRAFANA_UNTIMED_SIGNATURES: z.enum(['true', 'false']).default('false'),
  /** Failed Bull Board logins allowed per client IP and name in 15 minutes (5x that per IP alone) before 429. */
  CALLGUARD_LOGIN_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(10),
  /** Express "trust proxy": unset/false when clients connect directly; true, a hop count, or proxy IPs/subnets behind a reverse proxy (client IPs for login limits, HTTPS for Secure cookies). */
  CALLGUARD_TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v)),
  /** true: GET /metrics needs no bearer token (for scrapers on a private network). */
  CALLGUARD_METRICS_PUBLIC: z.enum(['true', 'false']).default('false'),
  /** Seconds a stopping process waits for running jobs before closing without them. */
  CALLGUARD_SHUTDOWN_GRACE_SECONDS: z.coerce.number().nonnegative().default(10),
  /**
   * Seconds a running job of callguard's own queues (events, notifications) stays claimed without
   * its worker renewing the claim (BullMQ's lock, renewed every half of it); the stalled-job check
   * runs at the same interval. A crashed instance's jobs run again within about twice this.
   */
  CALLGUARD_JOB_LOCK_SECONDS: z.coerce.number().min(1).max(300).default(5),
  /** Slack bot token; without it notifications are logged instead. */
  SLACK_BOT_TOKEN: z.string().optional(),
  /** Slack channel (id or #name) for notifications. */
  SLACK_CHANNEL: z.string().default('#callguard'),
  /** Override of the Slack API base URL (tests point it at a local fake). */
  SLACK_API_URL: z.string().url().optional(),
  /** Slack signing secret that verifies POST /slack/interactions. */
  SLACK_SIGNING_SECRET: z.string().optional(),
  /** Slack user IDs allowed to press "Resume calls" (comma list). */
  CALLGUARD_SLACK_ADMINS: csv.default([]),
  /** Minutes between "still paused" reminders for manual holds; 0 turns them off. */
  CALLGUARD_REMIND_MINUTES: z.coerce.number().nonnegative().default(30),
  /** pino level of callguard's own logs. */
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** Names of every variable callguard reads (the README's configuration table lists each). */
export const ENV_VARIABLES = Object.keys(schema.shape);

export type Config = {
  redisUrl: string;
  /** Empty: a single Redis at redisUrl. */
  clusterNodes: HostPort[];
  rulesPath: string;
  rulesSource: 'file' | 'redis';
  queues: string[];
  queuePrefix: string;
  prefix: string;
  minuteMs: number;
  autoResumeMinutes: number;
  autoPause: 'on' | 'shadow' | 'off';
  maxAlertHolds: number;
  flushMs: number;
  logLevel: string;
  port: number;
  users: string;
  sessionSecret?: string;
  webhookSecret?: string;
  grafanaUntimedSignatures: boolean;
  loginAttempts: number;
  metricsPublic: boolean;
  shutdownGraceMs: number;
  /** BullMQ lock duration and stalled-check interval of callguard's own workers. */
  jobLockMs: number;
  trustProxy: boolean | number | string;
  slack: {
    botToken?: string;
    channel: string;
    apiUrl?: string;
    signingSecret?: string;
    admins: string[];
  };
  remindMinutes: number;
};

/** Parses the environment once; throws a ConfigError listing every bad variable by name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(schema.shape, env);
  assertClusterPrefixes(e.REDIS_CLUSTER_NODES, { CALLGUARD_QUEUE_PREFIX: e.CALLGUARD_QUEUE_PREFIX, CALLGUARD_PREFIX: e.CALLGUARD_PREFIX });
  return {
    redisUrl: e.REDIS_URL,
    clusterNodes: e.REDIS_CLUSTER_NODES,
    rulesPath: e.CALLGUARD_RULES,
    rulesSource: e.CALLGUARD_RULES_SOURCE,
    queues: [...new Set(e.CALLGUARD_QUEUES)],
    queuePrefix: e.CALLGUARD_QUEUE_PREFIX,
    prefix: e.CALLGUARD_PREFIX,
    minuteMs: Math.round(e.CALLGUARD_MINUTE_SECONDS * 1000),
    autoResumeMinutes: e.CALLGUARD_AUTO_RESUME_MINUTES,
    autoPause: e.CALLGUARD_AUTO_PAUSE,
    maxAlertHolds: e.CALLGUARD_MAX_ALERT_HOLDS,
    flushMs: e.CALLGUARD_FLUSH_MS,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    users: e.CALLGUARD_USERS,
    sessionSecret: e.CALLGUARD_SESSION_SECRET,
    webhookSecret: e.CALLGUARD_WEBHOOK_SECRET,
    grafanaUntimedSignatures: e.CALLGUARD_GRAFANA_UNTIMED_SIGNATURES === 'true',
    loginAttempts: e.CALLGUARD_LOGIN_ATTEMPTS,
    metricsPublic: e.CALLGUARD_METRICS_PUBLIC === 'true',
    shutdownGraceMs: Math.round(e.CALLGUARD_SHUTDOWN_GRACE_SECONDS * 1000),
    jobLockMs: Math.round(e.CALLGUARD_JOB_LOCK_SECONDS * 1000),
    trustProxy: e.CALLGUARD_TRUST_PROXY,
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      channel: e.SLACK_CHANNEL,
      apiUrl: e.SLACK_API_URL,
      signingSecret: e.SLACK_SIGNING_SECRET,
      admins: e.CALLGUARD_SLACK_ADMINS,
    },
    remindMinutes: e.CALLGUARD_REMIND_MINUTES,
  };
}
