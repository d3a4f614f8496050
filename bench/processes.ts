/**
 * callguard as users run it: `npm start` (and `npm run start:health`) from the built dist/, each in
 * its own process, on private prefixes and a rules file of the benchmark's own. The smoke run
 * (npm test) starts src/ through tsx instead, so the test suite needs no build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchPrefix, dropPrefixes, REDIS_URL, type Size } from './lib.js';
import { BENCH_ADMIN, freePort } from './service.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** The Node flags `npm start` and `npm run start:health` give (package.json), so each process here runs as they do. */
function nodeFlags(entry: 'main' | 'health'): string[] {
  const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const script = scripts[entry === 'main' ? 'start' : 'start:health'] ?? '';
  return script.split(/\s+/).filter((a) => a.startsWith('--'));
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let built = false;
/** `npm run build` when dist/ is missing or older than src/ (once per run). */
function ensureBuilt(): void {
  if (built) return;
  let distAt: number;
  try {
    distAt = statSync(path.join(ROOT, 'dist/app/main.js')).mtimeMs;
  } catch {
    distAt = 0;
  }
  if (distAt < newestMtime(path.join(ROOT, 'src'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    if (r.status !== 0) throw new Error('bench: npm run build failed');
  }
  built = true;
}

export interface ServiceProcesses {
  url: string;
  prefix: string;
  queuePrefix: string;
  queues: string[];
  auth: Record<string, string>;
  /** The processes' ids (their RSS is read from /proc). */
  pids: number[];
  stop(): Promise<void>;
}

function startProcess(entry: 'main' | 'health', size: Size, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const flags = nodeFlags(entry);
  const args =
    size === 'full'
      ? [...flags, path.join(ROOT, `dist/app/${entry}.js`)]
      : [...flags, '--import', 'tsx', path.join(ROOT, `src/app/${entry}.ts`)];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench: ${entry} did not start within 60 s: ${out.slice(-2000)}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      if (out.length < 100_000) out += d.toString();
      if (/"msg":"callguard (health worker )?started"/.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: ${entry} exited (${code}) before it started: ${out.slice(-2000)}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** `npm start` (and `health` more `npm run start:health` processes) on the given rules. */
export async function startServiceProcesses(
  rulesJson: Record<string, unknown>,
  opts: { size: Size; health?: number; env?: Record<string, string>; prefixes?: { prefix: string; queuePrefix: string } },
): Promise<ServiceProcesses> {
  if (opts.size === 'full') ensureBuilt();
  const { prefix, queuePrefix } = opts.prefixes ?? benchPrefix();
  const redisUrl = opts.env?.REDIS_URL ?? REDIS_URL;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cgbench-'));
  const rulesPath = path.join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify(rulesJson));
  const port = await freePort();
  const queues = ['calls'];
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    REDIS_URL,
    CALLGUARD_PREFIX: prefix,
    CALLGUARD_QUEUE_PREFIX: queuePrefix,
    CALLGUARD_QUEUES: queues.join(','),
    CALLGUARD_RULES: rulesPath,
    CALLGUARD_USERS: `${BENCH_ADMIN.name}:admin:${BENCH_ADMIN.secret}`,
    PORT: String(port),
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopProcess));
    rmSync(dir, { recursive: true, force: true });
    await dropPrefixes(redisUrl, prefix, queuePrefix);
  };
  try {
    children.push(await startProcess('main', opts.size, env));
    for (let i = 0; i < (opts.health ?? 0); i++) children.push(await startProcess('health', opts.size, env));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    prefix,
    queuePrefix,
    queues,
    auth: { authorization: `Bearer ${BENCH_ADMIN.secret}` },
    pids: children.map((c) => c.pid!),
    stop,
  };
}
