import { z } from 'zod';
import { assertClusterPrefixes, CLIENT_ENV, csv, envVar, parseEnv, type ConfigOf } from '../client/config.js';
import { weakSecretReason } from '../domain/secret-strength.js';
import { INGEST_BATCH_MS } from '../jobs/count-batcher.js';

/** A secret of callguard's own: long enough and not the .env.example placeholder. */
const secret = z.string().superRefine((value, ctx) => {
  const weak = weakSecretReason(value);
  if (weak) ctx.addIssue({ code: 'custom', message: weak });
});

const seconds = (parser: z.ZodNumber) =>
  z.coerce
    .number()
    .pipe(parser)
    .transform((s) => Math.round(s * 1000));
const trueFalse = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * Every environment variable callguard reads, each declared once: name, config field, parser,
 * default, doc. docs/configuration.md is generated from this (npm run docs:config) and a test
 * fails when it is out of date.
 */
export const ENV = {
  ...CLIENT_ENV,
  CALLGUARD_QUEUE_PREFIX: envVar({
    key: 'queuePrefix',
    parser: z.string().min(1),
    default: 'bull',
    doc: 'BullMQ prefix of the dispatch queues; on Redis Cluster it needs a hash tag, e.g. `{bull}`',
  }),
  CALLGUARD_MINUTE_SECONDS: envVar({
    key: 'minuteMs',
    parser: seconds(z.number().positive()),
    default: '60',
    doc: 'length of one "minute": buckets, windows, evaluator period, resume delay (tests and the demo use 1)',
  }),
  CALLGUARD_AUTO_RESUME_MINUTES: envVar({
    key: 'autoResumeMinutes',
    parser: z.coerce.number().nonnegative(),
    default: '5',
    doc: 'minutes a rule must stay *continuously* below threshold before its hold is released',
  }),
  CALLGUARD_AUTO_PAUSE: envVar({
    key: 'autoPause',
    parser: z.enum(['on', 'shadow', 'off']),
    default: 'on',
    doc: '`on`: tripped rules pause; `shadow`: every rule behaves as `"mode": "shadow"` (audit, metrics and Slack say "would have paused", no queue is touched); `off`: rules are counted and shown but never pause (the old `ENABLE_AUTO_PAUSE_CALLS=false`); holds that exist stay until their rules clear',
  }),
  CALLGUARD_RULES_SOURCE: envVar({
    key: 'rulesSource',
    parser: z.enum(['file', 'redis']),
    default: 'file',
    doc: '`file`: the rules file is the source (a booting instance whose file differs publishes it; API edits answer 409); `redis`: the versioned rules in Redis are the source, edited through `PUT /health/rules`, and the file only seeds an empty store. See [rules.md](rules.md)',
  }),
  CALLGUARD_MAX_ALERT_HOLDS: envVar({
    key: 'maxAlertHolds',
    parser: z.coerce.number().int().min(1).max(100_000),
    default: '200',
    doc: 'alert holds kept one per alert; alerts firing beyond this many join one overflow hold `alert:overflow` (scope: every queue, one Slack message for the burst) that stays until every alert behind it resolves or an admin resumes',
  }),
  LOG_LEVEL: envVar({
    key: 'logLevel',
    parser: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    default: 'info',
    doc: "level of callguard's own logs (`silent` … `trace`)",
  }),
  PORT: envVar({
    key: 'port',
    parser: z.coerce.number().int().min(0).max(65535),
    default: '3000',
    doc: 'HTTP port of the admin API and Bull Board',
  }),
  CALLGUARD_USERS: envVar({
    key: 'users',
    parser: z.string(),
    default: '',
    unset: '*(empty)*',
    doc: 'principals, `name:role:secret` comma list; roles `admin`, `viewer`, `alerts`; the names `callguard`, `webhook` and `bullmq` are reserved; secrets ≥ 32 characters, and a `change-me…` placeholder from `.env.example` stops start-up; the secret may be given as `sha256:<64 hex>` (from [`callguard hash-secret`](operating.md#cli)) so the plain secret is not in the environment. Empty: a random admin secret is generated and printed once at start',
  }),
  CALLGUARD_SESSION_SECRET: envVar({
    key: 'sessionSecret',
    parser: secret,
    unset: '*(random)*',
    doc: 'secret for browser session cookies (≥ 32 chars, not a `change-me…` placeholder); random per process when unset',
  }),
  CALLGUARD_WEBHOOK_SECRET: envVar({
    key: 'webhookSecret',
    parser: secret,
    doc: 'HMAC secret accepted on `POST /health/alert` besides bearer tokens (≥ 32 chars, not a `change-me…` placeholder)',
  }),
  CALLGUARD_GRAFANA_UNTIMED_SIGNATURES: envVar({
    key: 'grafanaUntimedSignatures',
    parser: trueFalse,
    default: 'false',
    doc: '`true`: also accept Grafana\'s body-only signature (no `X-Grafana-Alerting-Timestamp`). Trade-off: without a timestamp a captured request stays valid for ever (callguard refuses only a repeat within 5 minutes), so anyone who sees one can replay a "resolved" notice later and lift a hold. Leave it off and configure the timestamp header instead',
  }),
  CALLGUARD_LOGIN_ATTEMPTS: envVar({
    key: 'loginAttempts',
    parser: z.coerce.number().int().min(1).max(1000),
    default: '10',
    doc: 'failed Bull Board logins allowed per client address and name in 15 minutes (5× that per address, and 5× that for failed bearer tokens per address) before 429; counted in Redis, shared by instances',
  }),
  CALLGUARD_TRUST_PROXY: envVar({
    key: 'trustProxy',
    parser: z
      .string()
      .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v)),
    default: 'false',
    doc: "Express `trust proxy`: `true`, a hop count, or proxy addresses/subnets when callguard runs behind a reverse proxy (client addresses for login limits, HTTPS for `Secure` cookies, the forwarded host for the origin check). `true` trusts any `X-Forwarded-For`, so a client can pick its own address past the limits: callguard warns at start; prefer a hop count or the proxy's addresses",
  }),
  SLACK_BOT_TOKEN: envVar({
    key: 'slack.botToken',
    parser: z.string(),
    doc: 'Slack bot token; without it notifications are logged instead',
  }),
  SLACK_CHANNEL: envVar({ key: 'slack.channel', parser: z.string(), default: '#callguard', doc: 'channel for notifications' }),
  SLACK_API_URL: envVar({
    key: 'slack.apiUrl',
    parser: z.string().url(),
    unset: '*(Slack)*',
    doc: 'override of the Slack API base URL (tests use a local fake)',
  }),
  SLACK_SIGNING_SECRET: envVar({ key: 'slack.signingSecret', parser: z.string(), doc: 'verifies `POST /slack/interactions`' }),
  CALLGUARD_SLACK_ADMINS: envVar({
    key: 'slack.admins',
    parser: csv,
    default: '',
    unset: '*(empty)*',
    doc: 'Slack user IDs allowed to press "Resume calls"',
  }),
  CALLGUARD_REMIND_MINUTES: envVar({
    key: 'remindMinutes',
    parser: z.coerce.number().nonnegative(),
    default: '30',
    doc: 'minutes between "still paused" reminders for manual holds; `0` = off',
  }),
  CALLGUARD_METRICS_PUBLIC: envVar({
    key: 'metricsPublic',
    parser: trueFalse,
    default: 'false',
    doc: '`true`: `GET /metrics` needs no bearer token (scrapers on a private network)',
  }),
  CALLGUARD_SHUTDOWN_GRACE_SECONDS: envVar({
    key: 'shutdownGraceMs',
    parser: seconds(z.number().nonnegative()),
    default: '10',
    doc: 'on SIGTERM/SIGINT, how long requests and running jobs may take to finish',
  }),
  CALLGUARD_INGEST_BATCH_MS: envVar({
    key: 'ingestBatchMs',
    parser: z.coerce.number().min(0).max(1000),
    default: String(INGEST_BATCH_MS),
    doc: "longest time in milliseconds a batch of counts from `POST /health/errors` and `/health/logs` waits after the one before it started (0 … 1000). It leaves sooner once as many requests have come in since the batch ahead landed as that batch answered: clients that await each report are then all back, so they are never held to one report per interval. Each batch is one `events` job, and each request is answered once its batch is in Redis. Raise it for fewer jobs in a storm of reports nobody awaits (each job id is kept an hour to count it once, 136 bytes in Redis), at the price of such a request's wait",
  }),
  CALLGUARD_JOB_LOCK_SECONDS: envVar({
    key: 'jobLockMs',
    parser: seconds(z.number().min(1).max(300)),
    default: '5',
    doc: "how long a running job of callguard's own queues (`events`, `notifications`) stays claimed without its worker renewing the claim (BullMQ's `lockDuration`, renewed every half of it; the stalled-job check runs at the same interval, 1 … 300). After a crash (`kill -9`, a lost host) the jobs it was running run again within about twice this. A job whose claim lapses because Redis was unreachable for longer runs again too: counting is by job id, so no count doubles, but Slack may get that message twice",
  }),
};

/** Names of every variable callguard reads. */
export const ENV_VARIABLES = Object.keys(ENV);

export type Config = ConfigOf<typeof ENV>;

/** Parses the environment once; throws a ConfigError listing every bad variable by name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = parseEnv(ENV, env);
  assertClusterPrefixes(config.clusterNodes, { CALLGUARD_QUEUE_PREFIX: config.queuePrefix, CALLGUARD_PREFIX: config.prefix });
  return config;
}
