import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const INPUTS = [
  'src',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/build.mjs',
  'packages/client/package.json',
  'packages/client/tsconfig.json',
];
// `npm run build` (scripts/build.mjs) builds the client package first and copies the server's Lua scripts last, so this directory's time is when a build finished.
const LAST_OUTPUT = 'dist/store/scripts';

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  // A directory's own time moves when a file in it is added or removed.
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function builtAt(): number | undefined {
  try {
    return statSync(LAST_OUTPUT).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * The tests of the compiled package (npm start, the packed tarball) run dist/: `npm ci` builds it
 * (prepare), and this rebuilds it when a source is newer, so they never test stale output.
 */
export async function ensureBuilt(): Promise<{ rebuilt: boolean; ms: number }> {
  const at = builtAt();
  if (at !== undefined && Math.max(...INPUTS.map(newest)) <= at) return { rebuilt: false, ms: 0 };
  const started = performance.now();
  await run('npm', ['run', '--silent', 'build'], { env: npmEnv(), maxBuffer: 16 * 1024 * 1024 });
  return { rebuilt: true, ms: Math.round(performance.now() - started) };
}

/** The environment for a nested npm: without the npm_* variables of an enclosing `npm test`, which would point it at this repository. */
export function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** `npm pack` of one package (dist/ must be fresh: ensureBuilt), into `into`; the tarball's path and its files. */
export async function packPackage(cwd: string, into: string): Promise<{ filename: string; shipped: string[] }> {
  // The publisher's prepare/prepack (a full rebuild) is skipped: ensureBuilt just made dist/ fresh.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', into], { cwd, env: npmEnv() });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  return { filename: join(into, filename), shipped: files.map((f) => f.path) };
}
