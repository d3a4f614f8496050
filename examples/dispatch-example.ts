/**
 * An example dispatch worker: places calls from the `calls` queue through a simulated provider,
 * logs failures with pino (counted by callguard's log sink), records each call's outcome for
 * rate rules naming its provider, and stops taking jobs while callguard holds the queue (or
 * parks them while it holds their provider). Run: npx tsx examples/dispatch-example.ts
 *   EXAMPLE_FAIL_SECONDS      provider fails for this long after start (default 30)
 *   EXAMPLE_JOBS_PER_SECOND   also enqueue this many demo calls per second (default 0)
 *   EXAMPLE_LATENCY_MS        how long one call takes (default 20)
 */
import { Queue, type Job } from 'bullmq';
import { pino } from 'pino';
import { closeReporter, connectRedis, createCallguardSink, createGuardedWorker, loadRulesFile } from '../src/client/index.js';
// The example shares callguard's settings (queues, both prefixes); an app of your own has its own.
import { loadConfig } from '../src/app/config.js';
import { SimulatedProvider } from './simulated-provider.js';

const config = loadConfig();
const queueName = config.queues[0]!;
const provider = new SimulatedProvider(
  'twilio',
  Number(process.env.EXAMPLE_FAIL_SECONDS ?? 30) * 1000,
  Number(process.env.EXAMPLE_LATENCY_MS ?? 20),
);
const logger = pino({}, pino.multistream([{ stream: process.stdout }, { stream: createCallguardSink() }]));
// REDIS_URL, or a cluster client when REDIS_CLUSTER_NODES is set (then the prefixes need hash tags).
const connection = connectRedis(config);

interface Call {
  to: string;
  provider?: string;
}

const worker = createGuardedWorker<Call>(
  queueName,
  async (job) => {
    try {
      const { sid } = await provider.placeCall(job.data.to);
      logger.info({ job: job.id, sid }, 'call placed');
      return sid;
    } catch (err) {
      // The phrase the default rules.json matches for twilio.
      logger.error({ job: job.id, err }, 'error when making call via twilio');
      throw err;
    }
  },
  {
    // Outcomes go through the shared reporter (closeReporter() sends the last ones); the rules
    // say which calls are slow. Jobs without a provider go to the one this example simulates.
    provider: (job: Job<Call>) => job.data.provider ?? 'twilio',
    rules: loadRulesFile(config.rulesPath, config.queues).rules,
    connection,
    prefix: config.queuePrefix,
    callguardPrefix: config.prefix,
    concurrency: 4,
  },
);
worker.on('error', (err) => logger.error({ err }, 'worker error'));

const perSecond = Number(process.env.EXAMPLE_JOBS_PER_SECOND ?? 0);
const producer = new Queue(queueName, { connection, prefix: config.queuePrefix });
let n = 0;
const feeder =
  perSecond > 0
    ? setInterval(() => {
        const jobs = Array.from({ length: perSecond }, () => ({
          name: 'call',
          data: { to: `+1555${String(++n).padStart(7, '0')}` },
          opts: { attempts: 8, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000, removeOnFail: 1000 },
        }));
        producer.addBulk(jobs).catch((err) => logger.error({ err }, 'could not enqueue demo calls'));
      }, 1000)
    : undefined;

logger.info(
  { queue: queueName, failForSeconds: Number(process.env.EXAMPLE_FAIL_SECONDS ?? 30), perSecond },
  'example dispatch worker started',
);

async function stop(signal: NodeJS.Signals): Promise<void> {
  clearInterval(feeder);
  // close() waits for the calls in progress; nothing new is fetched meanwhile.
  await worker.close();
  logger.info({ signal }, 'example dispatch worker stopped');
  await producer.close();
  connection.disconnect();
  await closeReporter();
  process.exit(0);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // Fire and forget: should closing fail, the unhandled rejection ends the process with the error.
  process.once(signal, () => void stop(signal));
}
