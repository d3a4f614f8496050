import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { figure } from '../support/figures.js';

/** What the logging app prints when it stops (see fixtures/storm-app.ts). */
export interface LoggingAppResult {
  logged: number;
  maxStallMs: number;
  /** The longest stall as far as the event loop's thread ran meanwhile (the part that is the app's own doing). */
  onCpuMaxStallMs: number;
  warmupMaxStallMs: number;
  p99StallMs: number;
  closeMs: number;
  late: Array<[number, number, number, number]>;
  reporter: { reported: number; dropped: number; failedFlushes: number; unsent: number };
}

/**
 * The longest stall allowed an app logging through the sink, counted as far as the process ran
 * meanwhile: the 2 loaded cores alone hold an idle process off the CPU for up to ~100 ms.
 */
export const MAX_STALL_MS = 50;

/**
 * An app logging `perTick` errors every 10 ms through pino + callguard's sink, in its own process
 * (fixtures/storm-app.ts), connected as `env` says (REDIS_URL or REDIS_CLUSTER_NODES,
 * CALLGUARD_PREFIX, CALLGUARD_RULES). It logs for `durationMs`, or until `stop()` when omitted.
 */
export class LoggingApp {
  /** Resolves once the warm-up is over: the stall is measured from then on. */
  readonly warmedUp: Promise<void>;
  private readonly result: Promise<LoggingAppResult>;

  private constructor(private readonly child: ChildProcess & { stdout: NodeJS.ReadableStream }) {
    let out = '';
    this.warmedUp = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => ((out += c.toString()), out.includes('warmed up') && resolve()));
      child.once('exit', (code) => reject(new Error(`the logging app exited (${code}) before warming up: ${out}`)));
    });
    this.warmedUp.catch(() => undefined);
    this.result = new Promise<LoggingAppResult>((resolve, reject) =>
      child.once('exit', (code) => {
        const last = out.trim().split('\n').pop()!;
        if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as LoggingAppResult);
        else reject(new Error(`the logging app exited (${code}): ${out}`));
      }),
    );
    this.result.catch(() => undefined);
  }

  static start(env: Record<string, string>, opts: { perTick: number; message?: string; durationMs?: number }): LoggingApp {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/fixtures/storm-app.ts'], {
      env: {
        ...process.env,
        ...env,
        STORM_MS: opts.durationMs === undefined ? 'stdin' : String(opts.durationMs),
        STORM_PER_TICK: String(opts.perTick),
        ...(opts.message ? { STORM_MESSAGE: opts.message } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return new LoggingApp(child);
  }

  /** The app's figures once it has stopped logging and closed its reporter. */
  stop(): Promise<LoggingAppResult> {
    this.child.stdin?.end();
    return this.result;
  }

  /** For a test that failed before `stop()`. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** A logging app's stalls for a test's summary line, with those of an idle app alongside. */
export const stalls = (app: LoggingAppResult, idle: LoggingAppResult): string =>
  `longest event-loop stall ${app.maxStallMs.toFixed(1)} ms after warm-up, ${app.onCpuMaxStallMs} ms of it on the CPU (p99 ${app.p99StallMs.toFixed(1)} ms; start-up ${app.warmupMaxStallMs.toFixed(1)} ms; ` +
  `an idle app alongside: ${idle.maxStallMs.toFixed(1)} ms, ${idle.onCpuMaxStallMs} ms on the CPU; ticks over 40 ms late at [ms since start, ms late, ms the loop's thread ran, ms the process ran]: ${JSON.stringify(app.late)})`;

/**
 * What every fault test asks of the logging app that ran alongside it, once its counts are stored:
 * prints the summary line, then nothing dropped, every line reported, each count stored once
 * (`stored` = sent), and no stall of its own over MAX_STALL_MS. "Its own" is as far as the event
 * loop's thread ran (the scheduler's figure, not the process' CPU time: an app doing nothing was
 * seen using 97 ms of CPU in one stalled tick, its collector and compiler threads), beyond what
 * the idle app alongside ran in the same run. `note` goes after the counts.
 */
export function checkLoggingApp(label: string, app: LoggingAppResult, idle: LoggingAppResult, stored: number, note = ''): void {
  const sent = app.reporter.reported - app.reporter.dropped;
  figure(
    `${label}: logged ${app.logged}, reported ${app.reporter.reported}, dropped ${app.reporter.dropped}, failed flushes ${app.reporter.failedFlushes}; ` +
      `counts sent ${sent} stored ${stored}${note}; ${stalls(app, idle)}; close ${app.closeMs} ms`,
  );
  expect(app.reporter.dropped).toBe(0);
  expect(app.reporter.reported).toBe(app.logged);
  expect(stored).toBe(sent);
  expect(app.onCpuMaxStallMs).toBeLessThanOrEqual(MAX_STALL_MS + idle.onCpuMaxStallMs);
}
