import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBuilt, npmEnv } from './support/build.js';
import { CHILD_SECRET, startChild } from './support/child.js';
import { cleanup, testConfig, waitFor } from './support/harness.js';
import { figure } from './support/figures.js';

const started: number[] = [];
afterEach(() => {
  // Only if a test failed half-way: never leave what it started running.
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below `root`, from one `ps` snapshot. */
function descendants(root: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  for (let frontier = [root]; frontier.length > 0;) {
    frontier = rows.filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...frontier);
  }
  return found;
}

describe('SIGTERM to the process a supervisor started reaches callguard', () => {
  it.each([
    { command: 'npm start', args: ['start'], startedLine: 'callguard started' },
    { command: 'npm run start:health', args: ['run', 'start:health'], startedLine: 'callguard health worker started' },
  ])(
    '$command: logs "stopping", exits 0 and leaves no process behind',
    async ({ command, args, startedLine }) => {
      await ensureBuilt();
      const config = testConfig();
      const { child, exited, record } = startChild('npm', args, {
        env: {
          ...npmEnv(),
          CALLGUARD_PREFIX: config.prefix,
          CALLGUARD_QUEUE_PREFIX: config.queuePrefix,
          PORT: '0',
          LOG_LEVEL: 'info',
          CALLGUARD_USERS: `ops:admin:${CHILD_SECRET}`,
        },
      });
      started.push(child.pid!);
      try {
        const up = await waitFor(() => record<{ pid: number; msg: string; url?: string }>(startedLine), { timeoutMs: 30_000 });
        const tree = descendants(child.pid!);
        expect(tree).toContain(up.pid); // callguard's node runs below npm...
        expect(up.pid).not.toBe(child.pid);
        started.push(...tree);
        if (up.url) expect((await fetch(`${up.url}/healthz`)).status).toBe(200);

        const sent = performance.now();
        child.kill('SIGTERM'); // ...and the signal goes to npm's pid only
        const code = await Promise.race([exited, waitFor(() => false, { timeoutMs: 30_000 })]);
        const ms = Math.round(performance.now() - sent);

        expect(code).toBe(0);
        expect(record<{ pid: number; msg: string }>('stopping')?.pid).toBe(up.pid);
        expect(tree.filter(alive)).toEqual([]);
        if (up.url) await expect(fetch(`${up.url}/healthz`)).rejects.toThrow();
        figure(
          `${command}: SIGTERM to npm (pid ${child.pid}) → callguard (node pid ${up.pid}) logged "stopping" → exit 0 in ${ms} ms; processes left of [${tree.join(', ')}]: none`,
        );
      } finally {
        await cleanup(config);
      }
    },
    180_000,
  );
});
