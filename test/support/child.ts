/**
 * Processes a test starts (npm start, the CLI's server, an example worker): their output so far,
 * their exit code, and the JSON log records they printed. `stopChildren()` in an afterEach kills
 * whatever a failed test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output: () => string;
  exited: Promise<number | null>;
  /** The first JSON log line with this `msg`. */
  record: <R extends { msg: string }>(msg: string) => R | undefined;
}

/** A principal's secret for children that need CALLGUARD_USERS (`ops:admin:${CHILD_SECRET}`). */
export const CHILD_SECRET = '0123456789abcdef0123456789abcdef';

const running: ChildProcess[] = [];

export function startChild(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): Child {
  const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const record = <R extends { msg: string }>(msg: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as R)
      .find((r) => r.msg === msg);
  return { child, output: () => out, exited, record };
}

/**
 * A TypeScript entry point under Node with tsx's loader. Not the tsx wrapper: on a loaded machine
 * it SIGKILLs a child slow to confirm it handles SIGTERM and exits 143, not the child's own code.
 */
export function startTs(script: string, env: Record<string, string>): Child {
  return startChild(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, LOG_LEVEL: 'info', ...env } });
}

export function stopChildren(): void {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
