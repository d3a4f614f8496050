/** The test run's own provisioning (test/support/global-setup.ts): install when root, else the one command to run. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureDebianPackage } from './support/debian-package.js';

const AS_NOBODY = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];

describe('ensureDebianPackage', () => {
  it('does nothing when the binary is there', () => {
    expect(() => ensureDebianPackage(process.execPath, 'nodejs')).not.toThrow();
  });

  it('when the binary is missing and the user may not install, then it fails with the one command to run', () => {
    const code =
      "import('./test/support/debian-package.ts').then((m) => m.ensureDebianPackage('/usr/bin/callguard-no-such-tool', 'callguard-no-such-pkg'))";
    const [cmd, ...args] = [...AS_NOBODY, process.execPath, '--import', 'tsx', '-e', code];
    const run = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH!, HOME: '/tmp' } });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      '/usr/bin/callguard-no-such-tool is missing; install it with: sudo apt-get install -y callguard-no-such-pkg',
    );
  });
});
