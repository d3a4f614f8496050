import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { ensureBuilt, npmEnv, packPackage } from './support/build.js';
import { CHILD_SECRET, startChild } from './support/child.js';
import { cleanup, REDIS_URL, startTestCallguard, stopTestCallguard, testConfig, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const run = promisify(execFile);
const SERVER_ONLY = [
  'express',
  'passport',
  '@slack/web-api',
  'prom-client',
  '@bull-board/api',
  '@bull-board/express',
  'helmet',
  'connect-redis',
  'express-session',
  'commander',
];
const RULES = { twilio: { threshold_count: 1000, window_minutes: 5, log_patterns: ['error when making call via twilio'] } };

// Every module a process loads: ESM resolutions through a module.register() hook (written to the
// file named by CG_LOADED), and CommonJS ones from require.cache when the script ends.
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.CG_LOADED, resolved.url + '\\n');
  return resolved;
}`;
const REGISTER = `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`;
const LOADED_CJS = `
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
export function recordCjs() {
  appendFileSync(process.env.CG_LOADED, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
}`;
const CLIENT = `
import { reportError, closeReporter, createCallguardSink, createReporter, createGuardedWorker } from '@callguard-dev/client';
import { recordCjs } from './loaded-cjs.mjs';
const sink = createCallguardSink();
sink.write(JSON.stringify({ level: 50, msg: 'error when making call via twilio (503)' }) + '\\n');
sink.write(JSON.stringify({ level: 30, msg: 'error when making call via twilio (retrying)' }) + '\\n');
reportError('twilio', 2);
await closeReporter();
recordCjs();
console.log(JSON.stringify({ sink: sink.stats(), types: [createReporter, createGuardedWorker].map((f) => typeof f) }));
`;
const SERVER = `
import { recordCjs } from './loaded-cjs.mjs';
const server = await import('@callguard-dev/server');
recordCjs();
console.log(JSON.stringify({ createCallguard: typeof server.createCallguard, startHttpServer: typeof server.startHttpServer, loadConfig: typeof server.loadConfig }));
`;

let dir: string;
let project: string; // the client's tarball only: an app that places calls
let serverProject: string; // the server's tarball (and the client's, its dependency)
let cg: Callguard | undefined;
const tarballs: Record<'client' | 'server', string> = { client: '', server: '' };

async function install(into: string, specs: string[]): Promise<void> {
  mkdirSync(into, { recursive: true });
  writeFileSync(join(into, 'package.json'), JSON.stringify({ name: 'cg-consumer', private: true, type: 'module' }));
  await run('npm', ['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: into,
    env: npmEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** Installed packages (every node_modules entry npm reports) and the bytes of node_modules. */
async function footprint(into: string): Promise<{ packages: string[]; bytes: number }> {
  const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: into, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 });
  const packages = stdout
    .split('\n')
    .filter((l) => l.includes('/node_modules/'))
    .map((l) => l.slice(l.lastIndexOf('/node_modules/') + '/node_modules/'.length));
  const du = await run('du', ['-sb', join(into, 'node_modules')]);
  return { packages, bytes: Number(du.stdout.split('\t')[0]) };
}

beforeAll(async () => {
  const build = await ensureBuilt();
  figure(`build: ${build.rebuilt ? `rebuilt in ${build.ms} ms` : 'dist/ up to date'}`);
  dir = mkdtempSync(join(tmpdir(), 'cg-consumer-'));
  project = join(dir, 'app');
  serverProject = join(dir, 'server-app');
  const started = performance.now();
  const client = await packPackage('packages/client', dir);
  const server = await packPackage('.', dir);
  tarballs.client = client.filename;
  tarballs.server = server.filename;
  figure(`packed ${client.filename}: ${client.shipped.length} files; ${server.filename}: ${server.shipped.length} files`);
  expect(client.shipped).toContain('dist/client/index.js');
  expect(client.shipped).toContain('dist/store/scripts/guard-n.lua');
  expect(client.shipped.filter((f) => !/^(dist\/(client|domain|jobs|store)\/|README\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
  for (const f of ['dist/app/index.js', 'dist/cli/bin.js', 'dist/store/scripts/record-n.lua', 'LICENSE', 'CHANGELOG.md'])
    expect(server.shipped).toContain(f);
  expect(server.shipped.filter((f) => !/^(dist\/|rules\.json$|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
  await install(project, [client.filename]);
  await install(serverProject, [client.filename, server.filename]);
  figure(`npm pack ×2 + two installs into temporary projects: ${Math.round(performance.now() - started)} ms`);
  for (const [name, text] of Object.entries({
    'hooks.mjs': HOOKS,
    'register.mjs': REGISTER,
    'loaded-cjs.mjs': LOADED_CJS,
    'client.mjs': CLIENT,
    'server.mjs': SERVER,
  })) {
    writeFileSync(join(project, name), text);
    writeFileSync(join(serverProject, name), text);
  }
  writeFileSync(join(project, 'rules.json'), JSON.stringify(RULES));
}, 300_000);

afterAll(async () => {
  await stopTestCallguard(cg);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Plain node (no tsx, no TypeScript) in a temporary project, with only the variables given. */
async function node(script: string, env: Record<string, string> = {}, cwd = project) {
  const loaded = join(dir, `${script}.${cwd === project ? 'client' : 'server'}.loaded`);
  const { stdout } = await run(process.execPath, ['--import', './register.mjs', script], {
    cwd,
    env: { PATH: process.env.PATH, CG_LOADED: loaded, ...env },
  });
  const modules = readFileSync(loaded, 'utf8').split('\n').filter(Boolean);
  const packagesLoaded = (names: string[]) => names.filter((name) => modules.some((m) => m.includes(`/node_modules/${name}/`)));
  return { out: JSON.parse(stdout.trim().split('\n').at(-1)!), modules, packagesLoaded };
}

describe('the client package from its tarball, in a fresh project', () => {
  it('installs only what the client loads: bullmq, ioredis, zod and theirs, none of the server packages', async () => {
    const { packages, bytes } = await footprint(project);
    const server = await footprint(serverProject);
    figure(
      `client tarball: ${packages.length} packages, ${(bytes / 1e6).toFixed(1)} MB in node_modules` +
        ` (server tarball: ${server.packages.length} packages, ${(server.bytes / 1e6).toFixed(1)} MB; the single package before the split: 139 packages, 82 MB)`,
    );
    for (const dep of ['@callguard-dev/client', 'bullmq', 'ioredis', 'zod']) expect(packages).toContain(dep);
    expect(packages.filter((p) => SERVER_ONLY.includes(p) || p === '@callguard-dev/server')).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules/@callguard-dev/client/package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['bullmq', 'ioredis', 'zod']);
    expect(packages.length).toBeLessThan(server.packages.length / 3);
    expect(bytes).toBeLessThan(server.bytes / 2);
  });

  it("import '@callguard-dev/client' with the host's LOG_LEVEL=DEBUG and PORT=http: reports are counted, no server package is loaded", async () => {
    cg = await startTestCallguard(RULES);
    const client = await node('client.mjs', {
      LOG_LEVEL: 'DEBUG',
      PORT: 'http',
      REDIS_URL,
      CALLGUARD_PREFIX: cg.config.prefix,
      CALLGUARD_RULES: './rules.json',
      CALLGUARD_QUEUES: 'calls',
      CALLGUARD_FLUSH_MS: '20',
    });
    figure(`client: ${JSON.stringify(client.out)}`);
    // The info line is below every rule: the sink turns it away before it counts as a line.
    expect(client.out).toEqual({ sink: { lines: 1, matched: 1, dropped: 0, errors: 0 }, types: ['function', 'function'] });
    const counted = await waitFor(async () => ((await cg!.counters.sums()).counts.twilio === 3 ? 3 : 0));
    figure(`callguard counted twilio=${counted} (1 matched log line + reportError('twilio', 2))`);

    // The recording really sees what was loaded: the client's own dependencies are in it, through both paths.
    expect(
      client.modules.some((m) => m.startsWith('file://') && m.includes('/node_modules/@callguard-dev/client/dist/client/index.js')),
    ).toBe(true);
    expect(client.packagesLoaded(['bullmq', 'ioredis', 'zod'])).toEqual(['bullmq', 'ioredis', 'zod']);
    expect(client.modules.some((m) => m.includes('/tsx/'))).toBe(false);
    figure(
      `client loaded ${new Set(client.modules).size} modules; server-only among them: ${JSON.stringify(client.packagesLoaded(SERVER_ONLY))}`,
    );
    expect(client.packagesLoaded(SERVER_ONLY)).toEqual([]);
  });
});

describe('the server package from its tarball, in a fresh project', () => {
  it("import '@callguard-dev/server' gives createCallguard, and its dependency '@callguard-dev/client' is installed with it", async () => {
    const server = await node('server.mjs', {}, serverProject);
    expect(existsSync(join(serverProject, 'node_modules/@callguard-dev/client/dist/client/index.js'))).toBe(true);
    figure(
      `server: ${JSON.stringify(server.out)}; server-only packages loaded: ${server.packagesLoaded(SERVER_ONLY).length}/${SERVER_ONLY.length}`,
    );
    expect(server.out).toEqual({ createCallguard: 'function', startHttpServer: 'function', loadConfig: 'function' });
    expect(server.packagesLoaded(['express', 'prom-client', '@slack/web-api', 'passport'])).toEqual([
      'express',
      'prom-client',
      '@slack/web-api',
      'passport',
    ]);
  });

  it('the `callguard` bin runs compiled, without tsx, with its exec bit (in the tarball and after `npm run build`)', async () => {
    const installed = join(serverProject, 'node_modules/@callguard-dev/server');
    expect(existsSync(join(installed, 'dist/app/index.d.ts'))).toBe(true);
    expect(existsSync(join(serverProject, 'node_modules/tsx'))).toBe(false);
    expect(statSync(join(installed, 'dist/cli/bin.js')).mode & 0o111).toBe(0o111);
    expect(statSync('dist/cli/bin.js').mode & 0o111).toBe(0o111); // scripts/build.mjs sets it on every build
    const { stdout } = await run(join(serverProject, 'node_modules/.bin/callguard'), ['check-rules', join(installed, 'rules.json')], {
      cwd: serverProject,
      env: { PATH: process.env.PATH },
    });
    figure(`npm exec callguard check-rules: ${stdout.trim().split('\n')[0]}`);
    expect(stdout).toMatch(/twilio/);
  });

  it('`npm start` in the installed package serves /readyz and stops on SIGTERM with exit 0', async () => {
    const config = testConfig();
    const { child, exited, record } = startChild('npm', ['start'], {
      cwd: join(serverProject, 'node_modules/@callguard-dev/server'),
      env: {
        ...npmEnv(),
        REDIS_URL,
        CALLGUARD_PREFIX: config.prefix,
        CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
        PORT: '0',
        LOG_LEVEL: 'info',
        CALLGUARD_USERS: `ops:admin:${CHILD_SECRET}`,
      },
    });
    try {
      const { url } = await waitFor(() => record<{ msg: string; url: string }>('callguard started'), { timeoutMs: 30_000 });
      const ready = await waitFor(async () => ((await fetch(`${url}/readyz`)).status === 200 ? 200 : undefined), { timeoutMs: 20_000 });
      figure(`npm start from the installed server package: ${url}/readyz → ${ready}`);
      expect(ready).toBe(200);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await cleanup(config);
    }
  }, 60_000);
});

describe('npm publish --dry-run', () => {
  it.each([
    ['@callguard-dev/client', 'packages/client'],
    ['@callguard-dev/server', '.'],
  ])('%s: passes, public access, nothing to correct', async (name, cwd) => {
    // --ignore-scripts: dist/ is fresh; the real publish builds first (prepare / prepack).
    const { stdout, stderr } = await run('npm', ['publish', '--dry-run', '--ignore-scripts'], {
      cwd,
      env: npmEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toContain(`+ ${name}@0.1.0`);
    expect(stderr).toMatch(/with tag latest and public access \(dry-run\)/);
    // The one warning left is that nobody is logged in, which a dry run does not need.
    const warnings = stderr.split('\n').filter((l) => /warn/i.test(l) && !/requires you to be logged in/.test(l));
    expect(warnings).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name, license: 'MIT', publishConfig: { access: 'public' } });
    expect(pkg.private).toBeUndefined();
  });
});
