/**
 * `npm run demo`: callguard doing its job in well under a minute, against the local Redis.
 * A simulated provider fails, errors rise to the threshold, the dispatch queue is really paused,
 * the provider recovers, the rule stays clear long enough, the queue resumes and drains.
 * Everything lives under its own prefix and is deleted at the end. `--keep` stays up for the UI.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { SimulatedProvider } from './simulated-provider.js';
import { loadConfig } from '../src/app/config.js';
import { createGuardedWorker } from '../src/client/guarded-worker.js';
import { startHttpServer } from '../src/http/server.js';
import { httpDeps } from '../src/app/http-deps.js';
import { createLogSink } from '../src/client/log-sink.js';
import { createLogger } from '../src/ops/logger.js';
import { parseRules } from '../src/domain/rules.js';
import { createCallguard } from '../src/app/callguard.js';
import { exitOnStartupError } from '../src/app/boot.js';
import { deleteKeys } from '../src/store/redis.js';

const keep = process.argv.includes('--keep');
const id = randomBytes(3).toString('hex');
const secret = randomBytes(12).toString('base64url');
const FAIL_MS = 2500;
const JOBS = 60;

const t0 = Date.now();
const say = (tag: string, text: string) =>
  console.log(`${`+${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7)}  ${tag.padEnd(8)} ${text}`);

async function demo(): Promise<void> {
  const config = loadConfig({
    ...process.env,
    CALLGUARD_PREFIX: `{cgdemo-${id}}`,
    CALLGUARD_QUEUE_PREFIX: `cgdemo-${id}`,
    CALLGUARD_QUEUES: 'calls',
    CALLGUARD_MINUTE_SECONDS: '1',
    CALLGUARD_AUTO_RESUME_MINUTES: '4',
    CALLGUARD_AUTO_PAUSE: 'on',
    CALLGUARD_REMIND_MINUTES: '0',
    SLACK_BOT_TOKEN: '',
    PORT: process.env.PORT ?? '0',
    LOG_LEVEL: 'silent',
  });
  const { rules } = parseRules(
    JSON.stringify({ twilio: { threshold_count: 10, window_minutes: 3, log_patterns: ['error when making call via twilio'] } }),
    'demo rules',
    config.queues,
  );
  const rule = rules[0]!;
  const cg = await createCallguard(config, rules, { logger: createLogger('silent') });
  await cg.startWorker();
  const http = await startHttpServer(httpDeps(cg), { principals: [{ name: 'demo', role: 'admin', secret }] });

  console.log(
    `callguard demo — minute = 1 s; rule twilio trips at ${rule.thresholdCount} errors in ${rule.windowMinutes} min and resumes after ${config.autoResumeMinutes} min clear`,
  );
  console.log(`Bull Board: ${http.url}/admin/queues   login: demo / ${secret}   Redis prefixes: ${config.prefix} ${config.queuePrefix}\n`);

  // The example dispatch side: a guarded worker placing calls through a provider that fails for a while.
  const provider = new SimulatedProvider('twilio', FAIL_MS, 30);
  const sink = createLogSink({ rules, reporter: cg.reporter });
  const appLog = pino({ level: 'info' }, sink);
  const connection = { url: config.redisUrl, maxRetriesPerRequest: null };
  const completed = new Set<string>();
  const worker = createGuardedWorker<{ to: string }>(
    'calls',
    async (job) => {
      try {
        return await provider.placeCall(job.data.to);
      } catch (err) {
        appLog.error({ err }, 'error when making call via twilio');
        throw err;
      }
    },
    { connection, prefix: config.queuePrefix, callguardPrefix: config.prefix, concurrency: 2 },
  );
  worker.on('completed', (job) => completed.add(job.id!));
  worker.on('error', () => undefined);
  const producer = new Queue('calls', { connection, prefix: config.queuePrefix });
  const calls = cg.dispatch.get('calls')!;

  cg.emitter.on(
    'changes',
    async (changes) => {
      for (const c of changes) {
        if (c.event === 'hold-added') {
          say('TRIP', `${c.hold.reason}`);
          say('PAUSED', `queue calls paused by hold ${c.hold.id} — Queue.pause() in BullMQ, waiting: ${await calls.getWaitingCount()}`);
        } else if (c.event === 'hold-released') {
          say('RESUME', `${c.hold.id} released: ${c.reason ?? ''}`.trim());
        }
      }
    },
    'demo narration',
  );

  let fed = 0;
  const feeder = setInterval(() => {
    if (fed >= JOBS) return clearInterval(feeder);
    const batch = Array.from({ length: 5 }, () => ({
      name: 'call',
      data: { to: `+1555${String(++fed).padStart(7, '0')}` },
      opts: { attempts: 10, backoff: { type: 'exponential' as const, delay: 300 } },
    }));
    void producer.addBulk(batch);
  }, 250);

  let lastLine = '';
  let recovered = false;
  let resumedAt = 0;
  const deadline = Date.now() + 55_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const [{ counts }, clear, paused, waiting] = await Promise.all([
      cg.counters.sums([rule]),
      cg.ledger.clearSince(),
      calls.isPaused(),
      calls.getWaitingCount(),
    ]);
    if (!recovered && !provider.failing) {
      recovered = true;
      say('PROVIDER', 'twilio recovered (calls would succeed again)');
    }
    const now = await cg.ledger.now();
    const count = counts.twilio ?? 0;
    const line =
      paused && clear.twilio !== undefined
        ? `twilio clear for ${Math.floor((now - clear.twilio) / 1000)}/${config.autoResumeMinutes} min — resume when it reaches ${config.autoResumeMinutes}`
        : `twilio errors ${count}/${rule.thresholdCount} in window; queue ${paused ? 'PAUSED' : 'running'}, waiting ${waiting}, done ${completed.size}/${JOBS}`;
    // While paused only the count and the clear clock are news; the growing backlog is not.
    const key = paused ? line.replace(/waiting \d+, done \d+/, '') : line;
    if (key !== lastLine) say(paused && clear.twilio !== undefined ? 'CLEAR' : 'STATUS', line);
    lastLine = key;
    if (!paused && resumedAt === 0 && (await cg.ledger.audit(1))[0]?.event === 'hold-released') resumedAt = Date.now();
    if (resumedAt && completed.size === JOBS) {
      say('DRAINED', `all ${JOBS} calls placed after the resume: jobs in = jobs out`);
      break;
    }
  }
  const ok = completed.size === JOBS;
  if (!ok) say('TIMEOUT', `only ${completed.size}/${JOBS} calls placed`);

  if (keep) {
    console.log(`\n--keep: still running. Bull Board: ${http.url}/admin/queues (demo / ${secret}). Ctrl-C to stop and clean up.`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  clearInterval(feeder);
  await worker.close();
  await producer.close();
  await http.close();
  await cg.stop();
  const redis = new Redis(config.redisUrl);
  for (const pattern of [`${config.prefix}:*`, `${config.queuePrefix}:*`]) await deleteKeys(redis, pattern);
  redis.disconnect();
  console.log(`\ndemo ${ok ? 'finished' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; its Redis keys were removed`);
  process.exit(ok ? 0 : 1);
}

demo().catch(exitOnStartupError);
