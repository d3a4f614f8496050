/**
 * The Python client's failover against a real callguard over HTTP: clients/python/test_failover.py
 * (Debian's python3) drives choose and record; every test must pass, none skipped.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';
import { CLIENT_DIR, ensurePythonWithLoguru, pythonEnv } from './support/python.js';
import { figure } from './support/figures.js';

const RULES = {
  rules: { twilio: { providers: ['twilio'], failure_rate: 0.5, min_calls: 5, window_minutes: 120, log_patterns: [] } },
  providers: { exotel: { max_per_second: 3 } },
};

let python: string;
let t: TestHttp | undefined;
beforeAll(async () => {
  python = await ensurePythonWithLoguru();
}, 300_000);
afterAll(async () => stopTestHttp(t));

describe('the Python client’s failover against a running callguard', () => {
  it('runs every test in clients/python/test_failover.py and all pass, none skipped', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls' });
    const source = readFileSync(`${CLIENT_DIR}test_failover.py`, 'utf8');
    const defined = source.match(/^ {4}def test_\w+/gm)?.length ?? 0;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        python,
        ['-m', 'unittest', '-v', 'test_failover'],
        { cwd: CLIENT_DIR, env: pythonEnv({ CALLGUARD_URL: t!.url, CALLGUARD_TOKEN: tokenOf('alerts') }), timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
    expect(code, stderr).toBe(0);
    expect(defined).toBe(5);
    expect(stderr).toMatch(new RegExp(`^Ran ${defined} tests? in `, 'm'));
    expect(stderr).toMatch(/^OK$/m);
    expect(stderr).not.toMatch(/skipped/i);
    const latency = /choose latency over 1000 calls: .*/.exec(stdout)?.[0];
    expect(latency).toBeDefined();
    figure(`[python failover] ${latency}`);
    // The hold the Python calls' outcomes tripped is the shared breaker's: a rule hold on twilio's jobs.
    expect((await t.cg.ledger.list()).find((h) => h.id === 'rule:twilio')?.providers).toEqual(['twilio']);
  }, 150_000);
});
