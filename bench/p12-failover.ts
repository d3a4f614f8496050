/**
 * P12: failover (issue 21).
 * - P12 / P12l: an outage. Guarded workers place a `calls` queue's jobs (fed 20 a second, each
 *   listing ['twilio', 'plivo']) through a simulated 20 ms call; twilio starts failing every call,
 *   its rate rule trips and its jobs go to plivo (capacity 30 a second). Completed / fed over the
 *   outage, and the wait from a job's add to its call: failed over (during the outage) against
 *   the same jobs' wait to twilio before it (the extra latency a failed-over job pays, p99).
 * - P12t: guarded-worker throughput with three candidates against one (pairs, as P11).
 * - P12p: the Python client's `choose` on loopback against callguard as `npm start` runs it (its
 *   own process), beside what it is made of: GET /healthz on the same kind of kept-alive
 *   connection (HTTP and the client, no Redis) and the guard's Redis step alone, from Node.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createGuardedWorker, type GuardedJob } from '../src/client/guarded-worker.js';
import { Reporter } from '../src/client/reporter.js';
import { chooseCandidate } from '../src/store/guard.js';
import { Keys } from '../src/store/keys.js';
import type { BenchResult, Size } from './lib.js';
import { percentile, REDIS_URL, waitUntil } from './lib.js';
import { startServiceProcesses } from './processes.js';
import { BENCH_ADMIN, startBenchCallguard } from './service.js';
import { pairedResult, pairedTrials, throughputTrial, workerOptions } from './trial.js';

const FED_PER_SECOND = 20;
const CALL_MS = 20;
const PLIVO_PER_SECOND = 30;
const CLIENT_DIR = new URL('../clients/python/', import.meta.url).pathname;

interface Call {
  provider: string;
  ok: boolean;
  /** Date.now() when the call started, and the wait from the job's add to it. */
  start: number;
  waitMs: number;
  attempt: number;
}

async function outage(size: Size): Promise<BenchResult[]> {
  const before = size === 'full' ? 5000 : 1500;
  const measured = size === 'full' ? 10_000 : 2000;
  const rule = { window_minutes: 60, log_patterns: [], failure_rate: 0.5, min_calls: 10 };
  // A minute is a second; the hold outlasts the measured outage (clear delay 60 "minutes").
  const svc = await startBenchCallguard(
    {
      rules: { twilio: { ...rule, providers: ['twilio'] }, plivo: { ...rule, providers: ['plivo'] } },
      providers: { plivo: { max_per_second: PLIVO_PER_SECOND } },
    },
    { CALLGUARD_QUEUES: 'calls', CALLGUARD_MINUTE_SECONDS: '1', CALLGUARD_AUTO_RESUME_MINUTES: '60' },
  );
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const reporter = new Reporter(events, { flushMs: 100 });
  const queue = new Queue('calls', { connection: svc.connection(), prefix: svc.config.queuePrefix });
  const calls: Call[] = [];
  const fedAt: number[] = [];
  const failing = new Set<string>();
  const place = async (job: GuardedJob) => {
    const start = Date.now();
    const call = {
      provider: job.provider!,
      ok: !failing.has(job.provider!),
      start,
      waitMs: start - job.timestamp,
      attempt: job.attemptsMade,
    };
    calls.push(call);
    await new Promise((r) => setTimeout(r, CALL_MS));
    if (!call.ok) throw new Error(`${call.provider} failed`);
  };
  const workers = [0, 1].map(() =>
    createGuardedWorker('calls', place, {
      ...workerOptions(svc, 8),
      providers: () => ['twilio', 'plivo'],
      outcomes: reporter,
      rules: svc.rules,
    }),
  );
  let n = 0;
  const feeding = setInterval(
    () => {
      const at = Date.now();
      fedAt.push(at, at);
      void queue.addBulk(
        [0, 1].map(() => ({
          name: 'call',
          data: { n: n++ },
          opts: { attempts: 50, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: true, removeOnFail: true },
        })),
      );
    },
    1000 / (FED_PER_SECOND / 2),
  );
  try {
    const started = Date.now();
    await waitUntil(() => Date.now() > started + before, before + 5000, 'jobs placed before the outage');
    failing.add('twilio');
    const failedAt = Date.now();
    let since = 0;
    await waitUntil(
      async () => {
        since = (await svc.cg.ledger.list()).find((h) => h.id === 'rule:twilio')?.since ?? 0;
        return since > 0;
      },
      60_000,
      'the twilio rule to trip',
    );
    // From a second after the hold's commit (calls already past their check have started by then).
    const from = since + 1000;
    const to = from + measured;
    await waitUntil(() => Date.now() > to + 1000, measured + 60_000, 'the outage measured');
    clearInterval(feeding);

    const fed = fedAt.filter((t) => t > from && t <= to).length;
    const completed = calls.filter((c) => c.ok && c.provider === 'plivo' && c.start > from && c.start <= to).length;
    const twilioAfter = calls.filter((c) => c.provider === 'twilio' && c.start > from).length;
    const waits = (cs: Call[]) => cs.map((c) => c.waitMs).sort((a, b) => a - b);
    const normal = waits(calls.filter((c) => c.provider === 'twilio' && c.attempt === 0 && c.start > started + 500 && c.start < failedAt));
    const failedOver = waits(calls.filter((c) => c.provider === 'plivo' && c.attempt === 0 && c.start - c.waitMs > from && c.start <= to));
    const extra = percentile(failedOver, 99) - percentile(normal, 99);
    return [
      {
        id: 'P12',
        name: `failover during an outage: fed ${FED_PER_SECOND}/s ['twilio','plivo'], twilio failing, plivo ${PLIVO_PER_SECOND}/s, 2 workers × 8, ${measured / 1000} s measured from 1 s after the hold`,
        value: completed / fed,
        unit: 'completed/fed',
        target: '≥ 0.95',
        pass: completed / fed >= 0.95 && twilioAfter === 0,
        detail: { fed, completed, twilioCallsAfter: twilioAfter, tripMs: since - failedAt },
      },
      {
        id: 'P12l',
        name: `wait from add to call of a failed-over job (p99), ${CALL_MS} ms calls`,
        value: percentile(failedOver, 99),
        unit: 'ms p99',
        baseline: { value: percentile(normal, 99), unit: 'ms p99', what: 'same jobs to twilio before the outage' },
        target: 'extra ≤ 50 ms',
        pass: extra <= 50,
        detail: {
          extraMs: extra,
          p50: percentile(failedOver, 50),
          baseP50: percentile(normal, 50),
          jobs: failedOver.length,
          baseJobs: normal.length,
        },
      },
    ];
  } finally {
    clearInterval(feeding);
    await Promise.all(workers.map((w) => w.close()));
    await reporter.close();
    await Promise.all([events.close(), queue.close()]);
    await svc.stop();
  }
}

async function candidates(size: Size): Promise<BenchResult[]> {
  const pairs = size === 'full' ? 8 : 1;
  const jobs = size === 'full' ? 5000 : 100;
  const rule = { failure_rate: 0.5, min_calls: 20, window_minutes: 60, log_patterns: [] };
  const svc = await startBenchCallguard(
    { twilio: { ...rule, providers: ['twilio'] }, plivo: { ...rule, providers: ['plivo'] } },
    {},
    { worker: false },
  );
  const events = new Queue('events', { connection: svc.connection(), prefix: svc.config.prefix });
  const reporter = new Reporter(events, { flushMs: 250 });
  const trial = (guard: { providers: () => string[] } | { provider: () => string }) => {
    const opts = { ...workerOptions(svc, 20), ...guard, outcomes: reporter, rules: svc.rules };
    return throughputTrial(svc, { jobs, start: (name, processor) => createGuardedWorker(name, processor, opts) });
  };
  try {
    const t = await pairedTrials(
      pairs,
      () => trial({ providers: () => ['twilio', 'plivo', 'exotel'] }),
      () => trial({ provider: () => 'twilio' }),
    );
    return [
      pairedResult(t, {
        id: 'P12t',
        name: `guarded worker with three candidates (none held), concurrency 20, no-op calls, ${pairs} pairs × ${jobs} jobs (medians)`,
        baseline: 'same guarded worker, one provider',
        min: 0.9,
      }),
    ];
  } finally {
    await reporter.close();
    await events.close();
    await svc.stop();
  }
}

// Interleaved, so both see the same load: choose on the client's kept-alive connection, and
// GET /healthz (no Redis, no auth, no body) on another kept-alive http.client connection.
const PYTHON_TIMING = `
import http.client, json, sys, time, urllib.parse
from callguard_client import CallguardClient
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = CallguardClient(url, token)
u = urllib.parse.urlsplit(url)
plain = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
def healthz():
    plain.request("GET", "/healthz", headers={"User-Agent": "callguard-client-python/1"})
    r = plain.getresponse(); r.read()
    assert r.status == 200
choose, live = [], []
for i in range(n + 50):
    t = time.perf_counter(); c = client.choose("calls", ["vonage", "sinch"]); a = time.perf_counter() - t
    assert c.provider == "vonage", (c, client.last_error)
    t = time.perf_counter(); healthz(); b = time.perf_counter() - t
    if i >= 50: choose.append(a * 1000); live.append(b * 1000)
client.close()
print(json.dumps({"choose": choose, "healthz": live}))
`;

async function python(size: Size): Promise<BenchResult[]> {
  const n = size === 'full' ? 3000 : 100;
  const svc = await startServiceProcesses(
    {
      rules: { twilio: { providers: ['twilio'], failure_rate: 0.5, min_calls: 20, window_minutes: 5, log_patterns: [] } },
      providers: { sinch: { max_per_second: 1000 } },
    },
    { size },
  );
  const redis = new Redis(REDIS_URL);
  try {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/bin/python3',
        ['-c', PYTHON_TIMING, svc.url, BENCH_ADMIN.secret, String(n)],
        {
          cwd: CLIENT_DIR,
          env: { ...process.env, PYTHONPATH: CLIENT_DIR, PYTHONDONTWRITEBYTECODE: '1' },
          timeout: 300_000,
          maxBuffer: 1 << 24,
        },
        (err, stdout, stderr) => (err ? reject(new Error(`python: ${err.message} ${stderr}`)) : resolve(stdout)),
      ),
    );
    const t = JSON.parse(out) as { choose: number[]; healthz: number[] };
    const choose = t.choose.sort((a, b) => a - b);
    const live = t.healthz.sort((a, b) => a - b);
    // The guard's Redis step alone (the same script call the route makes), from this process.
    const keys = new Keys(svc.prefix);
    const step: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await chooseCandidate(redis, keys, { queue: 'calls', candidates: ['vonage', 'sinch'], member: randomUUID() });
      step.push(performance.now() - s);
    }
    step.sort((a, b) => a - b);
    const p99 = percentile(choose, 99);
    return [
      {
        id: 'P12p',
        name: `Python client choose() on loopback against \`npm start\` (own process), ${n} calls interleaved with GET /healthz`,
        value: p99,
        unit: 'ms p99',
        baseline: { value: percentile(live, 99), unit: 'ms p99', what: 'GET /healthz, same client process' },
        target: '≤ 5 ms',
        pass: p99 <= 5,
        detail: {
          p50: percentile(choose, 50),
          p90: percentile(choose, 90),
          max: choose.at(-1)!,
          healthzP50: percentile(live, 50),
          redisStepP50: percentile(step, 50),
          redisStepP99: percentile(step, 99),
        },
      },
    ];
  } finally {
    redis.disconnect();
    await svc.stop();
  }
}

export async function p12(size: Size): Promise<BenchResult[]> {
  return [...(await outage(size)), ...(await candidates(size)), ...(await python(size))];
}
