import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keys } from '../../src/store/keys.js';
import { waitFor } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';

export const ADMIN = { name: 'fault-admin', secret: 'fault-admin-secret-0123456789abcdef0123456789' };

/** Env of a callguard process with its own prefixes on a private Redis; minute = 1 s, no auto resume. */
export async function processEnv(redisUrl: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const id = randomBytes(4).toString('hex');
  return {
    REDIS_URL: redisUrl,
    CALLGUARD_PREFIX: `{cgf-${id}}`,
    CALLGUARD_QUEUE_PREFIX: `{cgfq-${id}}`,
    CALLGUARD_QUEUES: 'calls',
    CALLGUARD_MINUTE_SECONDS: '1',
    CALLGUARD_AUTO_RESUME_MINUTES: '600',
    CALLGUARD_USERS: `${ADMIN.name}:admin:${ADMIN.secret}`,
    CALLGUARD_SHUTDOWN_GRACE_SECONDS: '1',
    PORT: String(await freePort()),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** A real callguard process (compiled: node dist/app/<entry>.js), ready once it logs that it started. */
export class CallguardProcess {
  readonly output: string[] = [];
  private constructor(readonly child: ChildProcess) {}

  static async start(env: Record<string, string>, entry: 'main' | 'health' = 'main', timeoutMs = 60_000): Promise<CallguardProcess> {
    const child = spawn(process.execPath, [`dist/app/${entry}.js`], {
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new CallguardProcess(child);
    const started = entry === 'main' ? '"msg":"callguard started"' : '"msg":"callguard health worker started"';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`callguard ${entry} did not start within ${timeoutMs} ms:\n${p.output.join('')}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        p.output.push(chunk.toString());
        if (p.output.join('').includes(started)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (c: Buffer) => p.output.push(c.toString()));
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`callguard ${entry} exited (${code ?? signal}) before starting:\n${p.output.join('')}`));
      });
    });
    return p;
  }

  /** kill -9: no shutdown, nothing flushed. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** POST /health/resume on a running callguard process, as the fault admin: what an operator does. */
export async function resume(env: Record<string, string>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${env.PORT}/health/resume`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN.secret}` },
  });
  if (res.status !== 200) throw new Error(`resume answered ${res.status}: ${await res.text()}`);
}

/** The Redis time (ms) an audit entry was written: its stream id. */
export const auditedAt = (row: AuditRow): number => Number(row.id.split('-')[0]);

export interface AuditRow {
  id: string;
  event: string;
  hold: string;
  paused: string[];
  resumed: string[];
}

/** The test's own view of one callguard's keys and dispatch queue. */
export class Observer {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly events: Queue;
  readonly calls: Queue;
  /** callguard's notifications queue: one job per announced transition, its id from the audit id. */
  readonly notifications: Queue;

  constructor(redisUrl: string, env: Record<string, string>) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', () => undefined);
    this.keys = new Keys(env.CALLGUARD_PREFIX!);
    this.events = new Queue('events', { connection: this.redis, prefix: env.CALLGUARD_PREFIX });
    this.calls = new Queue('calls', { connection: this.redis, prefix: env.CALLGUARD_QUEUE_PREFIX });
    this.notifications = new Queue('notifications', { connection: this.redis, prefix: env.CALLGUARD_PREFIX });
    for (const q of [this.events, this.calls, this.notifications]) q.on('error', () => undefined);
  }

  report(rule: string, count: number, jobId?: string) {
    return this.events.add('error-report', { counts: { [rule]: count } }, jobId ? { jobId } : {});
  }

  /** Everything counted for the rule (all buckets: the tests' windows are longer than they run). */
  async stored(rule: string): Promise<number> {
    const buckets = await this.redis.hvals(this.keys.counts(rule));
    return buckets.reduce((n, v) => n + Number(v), 0);
  }

  async holds(): Promise<string[]> {
    return (await this.redis.hkeys(this.keys.holds)).sort();
  }

  async audit(): Promise<AuditRow[]> {
    const rows = await this.redis.xrange(this.keys.audit, '-', '+');
    return rows.map(([id, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      const list = (s = '') => s.split(',').filter(Boolean);
      return { id, event: f.event!, hold: f.hold!, paused: list(f.paused), resumed: list(f.resumed) };
    });
  }

  /** Ids of the notification jobs of hold changes (whatever their state: a message is one job). */
  async changeMessages(): Promise<string[]> {
    const jobs = await this.notifications.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
    return jobs
      .map((j) => j.id!)
      .filter((id) => id.startsWith('change-'))
      .sort();
  }

  async close(): Promise<void> {
    await this.notifications.close().catch(() => undefined);
    await this.events.close().catch(() => undefined);
    await this.calls.close().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** Resolves once callguard's events queue has no job waiting or running: every report sent so far is counted. */
export async function eventsIdle(events: Queue, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await events.getWaitingCount()) + (await events.getActiveCount()) === 0, {
    timeoutMs,
    what: 'the events queue with no job waiting or running',
  });
}
