import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a spare port, for tests that stop, freeze or restart Redis; never the
 * shared one. `restart()` brings it back empty on the same port (as after a restart without
 * persistence), or with every acknowledged write when started with `persist` (AOF, fsync always).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir?: string,
  ) {}

  static async start(opts: { persist?: boolean } = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts.persist ? mkdtempSync(join(tmpdir(), 'cg-redis-')) : undefined);
    await r.restart();
    return r;
  }

  /** SIGKILL, as a crash: no shutdown save, clients see the connection drop. */
  async kill(): Promise<void> {
    await this.end();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    await this.end();
    const persistence = this.dir ? ['--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: 'ignore',
    });
    const probe = new Redis(this.url, { retryStrategy: () => 20, maxRetriesPerRequest: null });
    probe.on('error', () => undefined);
    const timer = setTimeout(() => probe.disconnect(), 10_000);
    try {
      await probe.ping();
    } finally {
      clearTimeout(timer);
      probe.disconnect();
    }
  }

  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills the server and removes its data directory, if any. */
  async stop(): Promise<void> {
    await this.end();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private async end(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }
}
