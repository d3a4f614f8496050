import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`cluster: ${what} not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A private Redis Cluster for tests: three masters and three replicas on spare ports, config files
 * in a temp dir, node timeout 2 s so a killed master's replica takes over within seconds.
 */
export class PrivateCluster {
  private readonly children = new Map<number, ChildProcess>();
  private constructor(
    readonly ports: number[],
    private readonly busPorts: number[],
    private readonly dir: string,
  ) {}

  static async start({ nodeTimeoutMs = 2000 } = {}): Promise<PrivateCluster> {
    const ports = new Set<number>();
    while (ports.size < 12) ports.add(await freePort());
    const all = [...ports];
    const c = new PrivateCluster(all.slice(0, 6), all.slice(6), mkdtempSync(join(tmpdir(), 'cg-cluster-')));
    try {
      c.ports.forEach((port, i) => {
        const child = spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(c.dir, `nodes-${port}.conf`),
            '--cluster-port',
            String(c.busPorts[i]),
            '--cluster-node-timeout',
            String(nodeTimeoutMs),
            // A replica may take over however long ago it last heard from its master (a test cluster is young).
            '--cluster-replica-validity-factor',
            '0',
            '--dir',
            c.dir,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { stdio: 'ignore' },
        );
        c.children.set(port, child);
      });
      for (const port of c.ports) await until(`node ${port} answering`, async () => (await cli(port, 'ping')).trim() === 'PONG');
      await run('redis-cli', ['--cluster', 'create', ...c.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 60_000,
      });
      await c.waitHealthy();
      // Replicas in sync, so a failover has the data to take over with.
      await until(
        'replicas in sync',
        async () => {
          let replicas = 0;
          for (const p of c.ports) {
            const info = await cli(p, 'info', 'replication');
            if (!info.includes('role:slave')) continue;
            if (!info.includes('master_link_status:up')) return false;
            replicas++;
          }
          return replicas === 3;
        },
        60_000,
      );
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  /** REDIS_CLUSTER_NODES for these nodes. */
  get nodesEnv(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  get nodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  private alive(): number[] {
    return this.ports.filter((p) => {
      const ch = this.children.get(p);
      return ch && ch.exitCode === null && ch.signalCode === null;
    });
  }

  /** Every live node says cluster_state:ok and every slot has a live master. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await until(
      'cluster_state:ok on every live node',
      async () => {
        for (const p of this.alive()) if (!(await cli(p, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        return true;
      },
      timeoutMs,
    );
  }

  /** Port of the master serving `key`'s slot, as a live node sees it. */
  async masterOf(key: string): Promise<number> {
    const any = this.alive()[0]!;
    const slot = Number((await cli(any, 'cluster', 'keyslot', key)).trim());
    const nodes = await cli(any, 'cluster', 'nodes');
    for (const line of nodes.trim().split('\n')) {
      const [, addr, flags, , , , , state, ...slots] = line.split(' ');
      if (!flags!.includes('master') || flags!.includes('fail') || state !== 'connected') continue;
      for (const range of slots) {
        if (range.startsWith('[')) continue;
        const [lo, hi = lo] = range.split('-').map(Number);
        if (slot >= lo! && slot <= hi!) return Number(addr!.split('@')[0]!.split(':')[1]);
      }
    }
    throw new Error(`no live master serves slot ${slot}`);
  }

  /** SIGKILL one node (no goodbye to its peers, as a crashed host). */
  kill(port: number): void {
    this.children.get(port)?.kill('SIGKILL');
  }

  /** Waits until `key`'s slot is served by a master other than `oldPort` and the cluster is ok. */
  async waitFailover(key: string, oldPort: number, timeoutMs = 60_000): Promise<number> {
    let now = oldPort;
    await until(
      `failover away from ${oldPort}`,
      async () => {
        now = await this.masterOf(key);
        return now !== oldPort;
      },
      timeoutMs,
    );
    await this.waitHealthy(timeoutMs);
    return now;
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    this.children.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
