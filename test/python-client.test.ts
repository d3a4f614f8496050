/**
 * The Python client for real: Debian's python3 with python3-loguru (installed by the set-up when
 * missing, as root; otherwise these fail with the command to run, never skip), its unittest suite,
 * and a Python app logging through loguru and logging against a real callguard over HTTP.
 */
import { httpDeps } from '../src/app/http-deps.js';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../src/http/server.js';
import { waitFor } from './support/harness.js';
import { startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';
import { CLIENT_DIR, ensurePythonWithLoguru, pythonEnv } from './support/python.js';
import { figure } from './support/figures.js';

const APP = fileURLToPath(new URL('./fixtures/python-app.py', import.meta.url));
const OUTAGE_SECONDS = 10;

let python: string;
beforeAll(async () => {
  python = await ensurePythonWithLoguru();
}, 300_000);

describe('the Python client’s unittest suite', () => {
  it('runs every test in clients/python/test_callguard_client.py and all pass, none skipped', async () => {
    const source = readFileSync(`${CLIENT_DIR}test_callguard_client.py`, 'utf8');
    const defined = source.match(/^ {4}def test_\w+/gm)?.length ?? 0;
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        python,
        ['-m', 'unittest', '-v', 'test_callguard_client'],
        { cwd: CLIENT_DIR, env: pythonEnv(), timeout: 120_000 },
        (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(code, stderr).toBe(0);
    expect(defined).toBeGreaterThan(10);
    expect(stderr).toMatch(new RegExp(`^Ran ${defined} tests? in `, 'm'));
    expect(stderr).toMatch(/^OK$/m);
    expect(stderr).not.toMatch(/skipped/i);
  }, 150_000);
});

const RULES = {
  twilio: { threshold_count: 4, window_minutes: 120, log_patterns: ['twilio api error'], queues: ['calls'] },
  telnyx: { threshold_count: 4, window_minutes: 120, log_patterns: ['telnyx call failed'], queues: ['sms'] },
  // One counted record would trip it: the app only ever logs this phrase at INFO.
  soniox: { threshold_count: 1, window_minutes: 120, log_patterns: ['soniox transcription failed'], queues: ['calls', 'sms', 'fax'] },
  vonage: { threshold_count: 100, window_minutes: 120, log_patterns: ['vonage call failed'], queues: ['fax'] },
};

/** The fixture app: one command per line in, one JSON line per phase out. */
class PythonApp {
  readonly stderr: string[] = [];
  private readonly lines: string[] = [];
  private wake = () => {};
  private readonly exited: Promise<number | null>;

  constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    proc.stderr.on('data', (chunk) => this.stderr.push(String(chunk)));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  async run(command: string, timeoutMs = 60_000): Promise<Record<string, any>> {
    this.proc.stdin.write(`${command}\n`);
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`no answer to "${command}" within ${timeoutMs} ms; stderr: ${this.stderr.join('')}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return JSON.parse(this.lines.shift()!);
  }

  async exit(): Promise<number | null> {
    this.proc.stdin.end('exit\n');
    return this.exited;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

describe('a Python app logging through loguru and logging, against a real callguard', () => {
  let t: TestHttp | undefined;
  let app: PythonApp | undefined;

  afterAll(async () => {
    app?.kill();
    await stopTestHttp(t);
  });

  it('warnings and errors with a rule’s phrase trip it, INFO lines do not, and logging never waits while callguard is down', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms,fax' });
    const port = Number(new URL(t.url).port);
    app = new PythonApp(spawn(python, [APP], { env: pythonEnv({ CALLGUARD_URL: t.url, CALLGUARD_TOKEN: tokenOf('alerts') }) }));

    // 4 loguru + 4 logging records carry a phrase at WARNING or above; 10 INFO lines carry soniox's.
    const tripped = await app.run('trip');
    expect(tripped).toMatchObject({
      flushed: true,
      records_queued: 18,
      records_sent: 18,
      server_records: 18,
      server_matched: 8,
      server_dropped: 0,
      dropped_overflow: 0,
    });
    const cg = t.cg;
    await waitFor(() => cg.dispatch.get('calls')!.isPaused(), { timeoutMs: 15_000 });
    await waitFor(() => cg.dispatch.get('sms')!.isPaused(), { timeoutMs: 15_000 });
    // soniox's count would have travelled in the same error-report job as these two.
    expect((await cg.ledger.list()).map((h) => h.id).sort()).toEqual(['rule:telnyx', 'rule:twilio']);
    expect(await cg.dispatch.get('fax')!.isPaused()).toBe(false);

    // The outage: callguard's port accepts connections and never answers while the app keeps
    // logging errors, so a log call that waited for the network would wait out the client's 5 s
    // timeout (a refused connection would fail in a millisecond and prove nothing).
    await t.http.close();
    const hung: Socket[] = [];
    const blackhole = createServer((s) => hung.push(s));
    await new Promise<void>((resolve) => blackhole.listen(port, '127.0.0.1', resolve));
    const outage = await app.run(`outage ${OUTAGE_SECONDS}`, (OUTAGE_SECONDS + 30) * 1000);
    await new Promise<void>((resolve) => {
      blackhole.close(() => resolve());
      for (const s of hung) s.destroy();
    });
    t.http = await startHttpServer(httpDeps(cg), { port, host: '127.0.0.1' });
    const longest = Math.max(outage.longest_ms.loguru, outage.longest_ms.logging);
    figure(
      `[python client] ${outage.calls} logger.error calls during a ${OUTAGE_SECONDS} s outage; longest: loguru ${outage.longest_ms.loguru} ms, logging ${outage.longest_ms.logging} ms; ` +
        `${outage.retries} failed sends retried, ${outage.buffered} records buffered, ${outage.dropped_overflow} dropped`,
    );
    expect(outage.calls).toBeGreaterThan(100);
    expect(outage.retries).toBeGreaterThan(0);
    expect(outage.records_sent).toBe(18);
    expect(hung.length).toBeGreaterThan(0);
    // Far below the 5 s a call waiting on the hung request would take; not a speed target.
    expect(longest).toBeLessThan(2500);

    const recovered = await app.run('flush');
    const expected = 18 + outage.calls;
    figure(
      `[python client] after recovery: ${recovered.records_queued} records queued, ${recovered.records_sent} sent, server counted ${recovered.server_records} received / ${recovered.server_matched} matched; dropped: overflow ${recovered.dropped_overflow}, expired ${recovered.dropped_expired}, rejected ${recovered.dropped_rejected}`,
    );
    expect(recovered).toMatchObject({
      flushed: true,
      records_queued: expected,
      records_sent: expected,
      server_records: expected,
      server_matched: 8 + outage.calls,
      dropped_overflow: 0,
      dropped_expired: 0,
    });
    await waitFor(() => cg.dispatch.get('fax')!.isPaused(), { timeoutMs: 15_000 });
    expect((await cg.ledger.list()).map((h) => h.id).sort()).toEqual(['rule:telnyx', 'rule:twilio', 'rule:vonage']);

    expect(await app.exit()).toBe(0);
  }, 120_000);
});
