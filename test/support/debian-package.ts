import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Makes sure `bin` exists, installing Debian's `pkg` when it is missing and we may (root).
 * Otherwise throws with the one command to run: a missing tool fails the run, never skips a test.
 */
export function ensureDebianPackage(bin: string, pkg: string): void {
  if (existsSync(bin)) return;
  const command = `apt-get install -y ${pkg}`;
  if (process.getuid?.() !== 0) throw new Error(`${bin} is missing; install it with: sudo ${command}`);
  const apt = (...args: string[]) =>
    execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  process.stderr.write(`${bin} is missing: running ${command}\n`);
  try {
    apt('install', '-y', '--no-install-recommends', pkg);
  } catch {
    // A fresh image has no package lists yet; fetch them once and try again.
    apt('update');
    apt('install', '-y', '--no-install-recommends', pkg);
  }
  if (!existsSync(bin)) throw new Error(`${command} finished but ${bin} is still missing`);
}
