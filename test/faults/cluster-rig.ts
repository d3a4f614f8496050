/**
 * callguard on a private Redis Cluster (three masters, three replicas) for the provider tests:
 * the service in this process (prefix {callguard}, a minute is a second), a `calls` queue, a
 * reporter and guarded workers, each on its own cluster connection. stop() ends them all.
 */
import { Queue, type Worker } from 'bullmq';
import { createCallguard, type Callguard } from '../../src/app/callguard.js';
import { loadConfig } from '../../src/app/config.js';
import { createGuardedWorker, type GuardedProcessor, type GuardOptions } from '../../src/client/guarded-worker.js';
import { createReporter } from '../../src/client/shared.js';
import { parseRules } from '../../src/domain/rules.js';
import type { Rule } from '../../src/domain/types.js';
import { createLogger } from '../../src/ops/logger.js';
import { connectRedis, type CallguardRedis } from '../../src/store/redis.js';
import { PrivateCluster } from '../support/redis-cluster.js';

export class ClusterRig {
  private readonly connections: CallguardRedis[] = [];
  private readonly workers: Worker[] = [];

  private constructor(
    readonly cluster: PrivateCluster,
    readonly cg: Callguard,
    readonly rules: Rule[],
    readonly calls: Queue,
    readonly reporter: ReturnType<typeof createReporter>,
    private readonly queuePrefix: string,
  ) {}

  /** A rules file of either shape; a second-shape file's providers (capacities) travel with it. */
  static async start(rulesJson: Record<string, unknown>, opts: { queuePrefix: string; autoResumeMinutes: number }): Promise<ClusterRig> {
    const cluster = await PrivateCluster.start();
    const config = loadConfig({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_URL: 'redis://127.0.0.1:1',
      CALLGUARD_PREFIX: '{callguard}',
      CALLGUARD_QUEUE_PREFIX: opts.queuePrefix,
      CALLGUARD_QUEUES: 'calls',
      CALLGUARD_MINUTE_SECONDS: '1',
      CALLGUARD_AUTO_RESUME_MINUTES: String(opts.autoResumeMinutes),
      LOG_LEVEL: 'silent',
    });
    const rules = parseRules(JSON.stringify(rulesJson), 'rules.json', config.queues).rules;
    let cg: Callguard;
    try {
      cg = await createCallguard(config, rules, {
        logger: createLogger('silent'),
        ...('providers' in rulesJson ? { rulesSeed: { content: rulesJson, file: 'rules.json' } } : {}),
      });
      await cg.startWorker();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    const reporter = createReporter({ clusterNodes: cluster.nodes, prefix: '{callguard}', flushMs: 50 });
    const watcher = connectRedis(config);
    watcher.on('error', () => undefined);
    const calls = new Queue('calls', { connection: watcher, prefix: opts.queuePrefix });
    calls.on('error', () => undefined);
    const rig = new ClusterRig(cluster, cg, rules, calls, reporter, opts.queuePrefix);
    rig.connections.push(watcher);
    return rig;
  }

  /** A new cluster connection, closed by stop(). */
  connection(): CallguardRedis {
    const c = connectRedis({ redisUrl: '', clusterNodes: this.cluster.nodes });
    c.on('error', () => undefined);
    this.connections.push(c);
    return c;
  }

  /** `count` guarded workers on `calls`, each on its own connection, outcomes to the rig's reporter; resolves once all are ready. */
  async startWorkers<D>(
    count: number,
    processor: GuardedProcessor<D, unknown>,
    guard: Pick<GuardOptions<D, unknown>, 'provider' | 'providers'> & { concurrency: number },
  ): Promise<void> {
    for (let i = 0; i < count; i++) {
      const worker = createGuardedWorker<D, unknown>('calls', processor, {
        connection: this.connection(),
        prefix: this.queuePrefix,
        callguardPrefix: '{callguard}',
        outcomes: this.reporter,
        rules: this.rules,
        ...guard,
      });
      worker.on('error', () => undefined);
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close().catch(() => undefined)));
    await this.reporter.close(2000).catch(() => undefined);
    await this.calls.close().catch(() => undefined);
    await this.cg.stop({ graceMs: 2000 }).catch(() => undefined);
    for (const c of this.connections) c.disconnect();
    await this.cluster.stop();
  }
}
