/**
 * The simulated providers' API and the dispatch processes that call it, for the shared-breaker
 * and failover tests: real child processes running guarded workers (test/fixtures/provider-worker.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Callguard } from '../../src/app/callguard.js';
import type { CallguardRedis } from '../../src/store/redis.js';
import { REDIS_URL } from './harness.js';

export type Mode = 'ok' | 'fail' | 'slow';
export interface Call {
  provider: string;
  job: string;
  worker: string;
  start: number;
  ok: boolean;
}

/** The providers' API: records every call; a provider's mode says whether it answers, fails or dawdles. */
export class ProviderApi {
  readonly calls: Call[] = [];
  readonly mode: Record<string, Mode> = { twilio: 'ok', plivo: 'ok' };
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams;
      const provider = q.get('provider')!;
      const mode = this.mode[provider] ?? 'ok';
      const call: Call = { provider, job: q.get('job')!, worker: q.get('pid')!, start: Date.now(), ok: mode !== 'fail' };
      this.calls.push(call);
      const answer = () => res.writeHead(mode === 'fail' ? 503 : 200).end();
      if (mode === 'slow') setTimeout(answer, 350);
      else answer();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}`;
  }

  of(provider: string, after = 0): Call[] {
    return this.calls.filter((c) => c.provider === provider && c.start > after);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

/** Dispatch processes of guarded workers on queue `calls`; stop() ends them and removes their rules file. */
export class ProviderWorkers {
  private readonly children: ChildProcess[] = [];
  private dir?: string;

  /** Starts `processes` processes of `workers` guarded workers each, resolving once each says ready. */
  async start(
    cg: Callguard,
    api: ProviderApi,
    rules: Record<string, unknown>,
    opts: { processes: number; workers: number; concurrency: number; env?: Record<string, string> },
  ): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'cg-breaker-'));
    writeFileSync(join(this.dir, 'rules.json'), JSON.stringify(rules));
    for (let i = 0; i < opts.processes; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/provider-worker.ts'], {
        env: {
          ...process.env,
          REDIS_URL: cg.config.redisUrl || REDIS_URL,
          CALLGUARD_PREFIX: cg.config.prefix,
          CALLGUARD_RULES: join(this.dir, 'rules.json'),
          CALLGUARD_QUEUES: 'calls',
          CALLGUARD_FLUSH_MS: '50',
          QUEUE_PREFIX: cg.config.queuePrefix,
          PROVIDER_URL: api.url,
          WORKERS: String(opts.workers),
          CONCURRENCY: String(opts.concurrency),
          ...opts.env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      this.children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before it was ready`)));
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.splice(0).map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null) return r();
            c.once('exit', () => r());
            c.kill('SIGTERM');
          }),
      ),
    );
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/**
 * The shortest time any `max + 1` of these calls took from first to last: at least the period
 * means no window of that period held more than `max` (a sliding window over the call times).
 */
export function shortestSpan(times: number[], max: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  const spans = sorted.slice(max).map((t, i) => t - sorted[i]!);
  return spans.length ? Math.min(...spans) : Infinity;
}

/**
 * The times (Redis clock) the guards let calls through, read from a sliding log before its
 * entries expire (they live one period; it is read every fifth of one): exact, where call times
 * seen at the API shift with each process's scheduling on a loaded machine.
 */
export class Grants {
  readonly at = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly redis: CallguardRedis,
    private readonly key: string,
    periodMs: number,
  ) {
    this.timer = setInterval(() => void this.read(), periodMs / 5);
  }
  private async read(): Promise<void> {
    const flat = await this.redis.zrange(this.key, '0', '-1', 'WITHSCORES').catch(() => []);
    for (let i = 0; i < flat.length; i += 2) this.at.set(flat[i]!, Number(flat[i + 1]));
  }
  async stop(): Promise<number[]> {
    clearInterval(this.timer);
    await this.read();
    return [...this.at.values()];
  }
}

/**
 * Feeds `queue` 20 jobs a second (two every 100 ms), each retried after a failed call until it
 * succeeds (fixed 200 ms backoff), and remembers when each was fed.
 */
export function feedCalls(queue: Queue): {
  fed: Map<string, number>;
  fedBetween: (from: number, to: number) => number;
  /** Stops feeding; resolves once the adds in flight have landed in `fed` (jobs in = jobs out counts them). */
  stop: () => Promise<void>;
} {
  const fed = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  const feed = async () => {
    n++;
    const jobs = [0, 1].map((k) => ({
      name: 'call',
      data: {},
      opts: { jobId: `call-${n}-${k}`, attempts: 50, backoff: { type: 'fixed', delay: 200 } },
    }));
    const at = Date.now();
    await queue.addBulk(jobs);
    for (const j of jobs) fed.set(j.opts.jobId, at);
  };
  const timer = setInterval(() => {
    const adding: Promise<void> = feed().finally(() => inFlight.delete(adding));
    inFlight.add(adding);
  }, 100);
  return {
    fed,
    fedBetween: (from, to) => [...fed.values()].filter((t) => t > from && t <= to).length,
    stop: async () => {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
    },
  };
}
