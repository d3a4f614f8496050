/**
 * The container image without a container engine: the Dockerfile is read for the properties we
 * rely on, and the image's start commands run against the built package, as an unprivileged
 * user, against the real Redis.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, testConfig, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
// Instructions with their continuation lines joined, comments dropped.
const instructions = dockerfile
  .replace(/\\\n\s*/g, '')
  .split('\n')
  .filter((l) => l.trim() && !l.trim().startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM /i.test(line)) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);

describe('Dockerfile', () => {
  it('builds in one stage and ships production dependencies and dist/ on slim Node 20 in the next', () => {
    expect(stages.map((s) => s[0])).toEqual(['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim AS production']);
    const [build, prod] = stages as [string[], string[]];
    expect(build).toContain('RUN npm ci --ignore-scripts --no-audit --no-fund');
    expect(build).toContain('RUN npm run build');
    expect(prod.find((l) => l.startsWith('RUN npm ci'))).toContain('--omit=dev');
    expect(prod).toContain('COPY --from=build /app/dist ./dist');
    expect(prod.filter((l) => /^COPY /.test(l)).join('\n')).not.toMatch(/COPY (src|\.) /);
  });

  it('gives Node the flags `npm start` and `npm run start:health` give, through NODE_OPTIONS', () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const flags = (command: string) => command.split(/\s+/).filter((a) => a.startsWith('--'));
    const env = stages[1]!.filter((l) => /^ENV /.test(l)).join(' ');
    const nodeOptions = /NODE_OPTIONS=("?)(.*?)\1(\s|$)/.exec(env)?.[2] ?? '';
    expect(flags(scripts['start:health']!)).toEqual(flags(scripts.start!));
    expect(nodeOptions.split(/\s+/).filter(Boolean)).toEqual(flags(scripts.start!));
  });

  it("copies each npm workspace's package.json before `npm ci` in both stages, and what `npm run build` reads", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { workspaces: string[]; scripts: { build: string } };
    for (const stage of stages) {
      const ci = stage.findIndex((l) => l.startsWith('RUN npm ci'));
      const copied = stage
        .slice(0, ci)
        .filter((l) => l.startsWith('COPY '))
        .join('\n');
      for (const ws of pkg.workspaces) expect(copied).toContain(`${ws}/package.json`);
    }
    expect(pkg.scripts.build).toBe('node scripts/build.mjs');
    const build = stages[0]!.join('\n');
    for (const input of ['scripts/build.mjs', 'packages/client/tsconfig.json', 'tsconfig.build.json', 'COPY src '])
      expect(build).toContain(input);
  });

  it('runs as a non-root user, Node itself as PID 1, with a /readyz HEALTHCHECK that needs no curl', () => {
    const prod = stages.at(-1)!;
    const user = prod.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
    const healthcheck = prod.find((l) => l.startsWith('HEALTHCHECK '))!;
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*fetch\(.*\/readyz/);
    expect(healthcheck).not.toContain('curl');
    // Exec form: no shell or npm between the runtime and Node, so SIGTERM reaches callguard.
    expect(prod.at(-1)).toBe('CMD ["node", "dist/app/main.js"]');
    expect(instructions.filter((l) => /^(CMD|ENTRYPOINT) /.test(l))).toEqual(['CMD ["node", "dist/app/main.js"]']);
  });

  it('.dockerignore keeps secrets, dependencies and local builds out of the build context', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const entry of ['.env', 'node_modules', 'dist', '.git']) expect(ignored).toContain(entry);
  });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

// The image runs as `node`; here any unprivileged user shows the same: nothing needs root or writes.
const UNPRIVILEGED = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];

function startAsNobody(args: string[], env: Record<string, string>): Started {
  const [cmd, ...rest] = [...UNPRIVILEGED, 'node', ...args];
  const child = spawn(cmd!, rest, { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('the image start commands, from `npm run build`, as an unprivileged user', () => {
  const config = testConfig();
  const secret = () => randomBytes(32).toString('base64url');
  const env = {
    REDIS_URL: config.redisUrl,
    CALLGUARD_PREFIX: config.prefix,
    CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
    CALLGUARD_MINUTE_SECONDS: '1',
    CALLGUARD_USERS: `ops:admin:${secret()}`,
    CALLGUARD_SESSION_SECRET: secret(),
    PORT: '0',
    NODE_ENV: 'production',
  };
  const started: Started[] = [];

  beforeAll(() => {
    execFileSync('npm', ['run', 'build'], { stdio: 'pipe' });
  }, 300_000);

  afterAll(async () => {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await cleanup(config);
  });

  it('node dist/app/main.js answers /readyz 200, and SIGTERM stops it with exit 0', async () => {
    const api = startAsNobody(['dist/app/main.js'], env);
    started.push(api);
    await waitFor(() => api.output().includes('callguard started') || api.child.exitCode !== null, { timeoutMs: 30_000 });
    const line = api
      .output()
      .split('\n')
      .find((l) => l.includes('callguard started'));
    expect(line, api.output()).toBeDefined();
    const url = JSON.parse(line!).url as string;
    // Ready once the evaluator schedule exists; the HEALTHCHECK command itself asks.
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 15_000 });
    const probe = spawnSyncProbe(url);
    expect(probe, api.output()).toBe(0);

    const sent = Date.now();
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    const stopMs = Date.now() - sent;
    expect(api.output()).toContain('"msg":"stopping"');
    expect(stopMs).toBeLessThan(15_000);
    figure(`image start command: SIGTERM to exit in ${stopMs} ms`);
  }, 60_000);

  it('node dist/app/health.js starts a health worker, and SIGTERM stops it with exit 0', async () => {
    const health = startAsNobody(['dist/app/health.js'], env);
    started.push(health);
    await waitFor(() => health.output().includes('callguard health worker started') || health.child.exitCode !== null, {
      timeoutMs: 30_000,
    });
    expect(health.output()).toContain('callguard health worker started');
    health.child.kill('SIGTERM');
    expect(await health.exited).toBe(0);
    expect(health.output()).toContain('"msg":"stopping"');
  }, 60_000);

  it.each([
    [
      'CALLGUARD_SESSION_SECRET',
      { CALLGUARD_SESSION_SECRET: 'change-me-to-another-long-random-value' },
      'CALLGUARD_SESSION_SECRET: is a placeholder',
    ],
    [
      'CALLGUARD_USERS',
      { CALLGUARD_USERS: 'ops:admin:change-me-to-a-long-random-secret' },
      'CALLGUARD_USERS entry 1: secret is a placeholder',
    ],
    [
      'CALLGUARD_WEBHOOK_SECRET',
      { CALLGUARD_WEBHOOK_SECRET: 'only-24-characters-long!' },
      'CALLGUARD_WEBHOOK_SECRET: must be at least 32 characters',
    ],
  ])(
    'refuses to start with a weak %s: exit 1, the variable named, its value never printed',
    async (_name, bad, message) => {
      const run = startAsNobody(['dist/app/main.js'], { ...env, ...bad });
      started.push(run);
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain(message);
      for (const value of Object.values(bad)) expect(run.output()).not.toContain(value.split(':').at(-1)!);
    },
    30_000,
  );
});

/** The Dockerfile's HEALTHCHECK command, run as written, against the running API. */
function spawnSyncProbe(url: string): number {
  const prod = stages.at(-1)!;
  const args = JSON.parse(prod.find((l) => l.startsWith('HEALTHCHECK '))!.replace(/^.*? CMD /, '')) as string[];
  try {
    execFileSync(args[0]!, args.slice(1), { env: { PATH: process.env.PATH!, PORT: new URL(url).port }, stdio: 'pipe' });
    return 0;
  } catch (err) {
    return (err as { status: number }).status;
  }
}
