import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Callguard } from '../src/app/callguard.js';
import { ensureBuilt, npmEnv } from './support/build.js';
import { REDIS_URL, startTestCallguard, stopTestCallguard, waitFor } from './support/harness.js';

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
import { reportError, closeReporter, createCallguardSink, createReporter, createGuardedWorker } from 'callguard';
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
const server = await import('callguard/server');
recordCjs();
console.log(JSON.stringify({ createCallguard: typeof server.createCallguard, startHttpServer: typeof server.startHttpServer, loadConfig: typeof server.loadConfig }));
`;

let dir: string;
let project: string;
let cg: Callguard | undefined;

beforeAll(async () => {
  const build = await ensureBuilt();
  console.log(`build: ${build.rebuilt ? `rebuilt in ${build.ms} ms` : 'dist/ up to date'}`);
  dir = mkdtempSync(join(tmpdir(), 'cg-consumer-'));
  project = join(dir, 'app');
  const started = performance.now();
  // dist/ is fresh, so the publisher's prepare (a full rebuild) is skipped.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { env: npmEnv() });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const shipped = files.map((f) => f.path);
  console.log(
    `packed ${filename}: ${shipped.length} files, e.g. ${['dist/client/index.js', 'dist/app/index.js', 'dist/cli/bin.js', 'dist/store/scripts/record-n.lua'].filter((f) => shipped.includes(f)).join(', ')}`,
  );
  expect(shipped.filter((f) => !/^(dist\/|rules\.json$|README\.md$|package\.json$)/.test(f))).toEqual([]);
  await run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cg-consumer', private: true, type: 'module' }));
  await run(
    'npm',
    ['install', join(dir, filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    { cwd: project, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 },
  );
  console.log(`npm pack + install into a temporary project: ${Math.round(performance.now() - started)} ms`);
  writeFileSync(join(project, 'hooks.mjs'), HOOKS);
  writeFileSync(join(project, 'register.mjs'), REGISTER);
  writeFileSync(join(project, 'loaded-cjs.mjs'), LOADED_CJS);
  writeFileSync(join(project, 'client.mjs'), CLIENT);
  writeFileSync(join(project, 'server.mjs'), SERVER);
  writeFileSync(join(project, 'rules.json'), JSON.stringify(RULES));
}, 240_000);

afterAll(async () => {
  await stopTestCallguard(cg);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Plain node (no tsx, no TypeScript) in the temporary project, with only the variables given. */
async function node(script: string, env: Record<string, string> = {}) {
  const loaded = join(dir, `${script}.loaded`);
  const { stdout } = await run(process.execPath, ['--import', './register.mjs', script], {
    cwd: project,
    env: { PATH: process.env.PATH, CG_LOADED: loaded, ...env },
  });
  const modules = readFileSync(loaded, 'utf8').split('\n').filter(Boolean);
  const packagesLoaded = (names: string[]) => names.filter((name) => modules.some((m) => m.includes(`/node_modules/${name}/`)));
  return { out: JSON.parse(stdout.trim().split('\n').at(-1)!), modules, packagesLoaded };
}

describe('the packed package in another project, from plain node', () => {
  it("import 'callguard' with the host's LOG_LEVEL=DEBUG and PORT=http: reports are counted, no server package is loaded", async () => {
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
    console.log(`client: ${JSON.stringify(client.out)}`);
    // The info line is below every rule: the sink turns it away before it counts as a line.
    expect(client.out).toEqual({ sink: { lines: 1, matched: 1, dropped: 0, errors: 0 }, types: ['function', 'function'] });
    const counted = await waitFor(async () => ((await cg!.counters.sums()).counts.twilio === 3 ? 3 : 0));
    console.log(`callguard counted twilio=${counted} (1 matched log line + reportError('twilio', 2))`);

    // The recording really sees what was loaded: the client's own dependencies are in it, through both paths.
    expect(client.modules.some((m) => m.startsWith('file://') && m.includes('/node_modules/callguard/dist/client/index.js'))).toBe(true);
    expect(client.packagesLoaded(['bullmq', 'ioredis', 'zod'])).toEqual(['bullmq', 'ioredis', 'zod']);
    expect(client.modules.some((m) => m.includes('/tsx/'))).toBe(false);
    console.log(
      `client loaded ${new Set(client.modules).size} modules; server-only among them: ${JSON.stringify(client.packagesLoaded(SERVER_ONLY))}`,
    );
    expect(client.packagesLoaded(SERVER_ONLY)).toEqual([]);
  });

  it("import 'callguard/server' gives createCallguard (and the same recording sees its server packages)", async () => {
    const server = await node('server.mjs');
    console.log(
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

  it('the `callguard` bin runs compiled, without tsx', async () => {
    expect(existsSync(join(project, 'node_modules/callguard/dist/client/index.d.ts'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/tsx'))).toBe(false);
    const { stdout } = await run(join(project, 'node_modules/.bin/callguard'), ['check-rules', 'node_modules/callguard/rules.json'], {
      cwd: project,
      env: { PATH: process.env.PATH },
    });
    console.log(`npx callguard check-rules: ${stdout.trim().split('\n')[0]}`);
    expect(stdout).toMatch(/twilio/);
  });
});
