import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's interpreter: a pyenv python3 earlier on PATH has no python3-loguru. */
export const PYTHON = '/usr/bin/python3';
export const CLIENT_DIR = fileURLToPath(new URL('../../clients/python/', import.meta.url));
const INSTALL = 'apt-get install -y python3 python3-loguru';

/** Environment for the Python processes: the client importable, no __pycache__ left in the repo. */
export const pythonEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  PYTHONPATH: CLIENT_DIR,
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
  ...extra,
});

const hasLoguru = async () =>
  existsSync(PYTHON) &&
  (await run(PYTHON, ['-c', 'import loguru']).then(
    () => true,
    () => false,
  ));

/**
 * Makes sure Debian's python3 with python3-loguru is there, installing it as root (apt-get update
 * once if the first install fails, as .ci/run does for Chromium). Otherwise it throws with the one
 * command to run: these tests fail without Python, they never skip.
 */
export async function ensurePythonWithLoguru(): Promise<string> {
  if (await hasLoguru()) return PYTHON;
  if (process.getuid?.() === 0) {
    const apt = (args: string[]) =>
      run('apt-get', args, { timeout: 240_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).then(
        () => true,
        () => false,
      );
    const installArgs = ['install', '-y', '-qq', 'python3', 'python3-loguru'];
    if (!(await apt(installArgs))) await apt(['update', '-qq']).then(() => apt(installArgs));
    if (await hasLoguru()) return PYTHON;
  }
  throw new Error(`${PYTHON} with loguru is required for the Python client tests; run \`${INSTALL}\` (as root)`);
}
