import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/http/auth/principals.js';
import { isCallguardError } from '../src/domain/errors.js';
import { loadRulesFile } from '../src/store/rules-file.js';
import { ensureBuilt } from './support/build.js';
import { waitFor } from './support/harness.js';
import { postJson, request, startTestHttp, stopTestHttp, tokenOf, USERS, type TestHttp } from './support/http.js';

// The compiled bin the package ships (twice as quick to start as the sources through tsx).
const BIN = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const RULES = {
  twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'], queues: ['calls'] },
  plivo: { threshold_count: 50, window_minutes: 10, log_patterns: ['plivo api error'] },
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real bin as an operator would; only the variables given here reach it. */
function cli(args: string[], env: { url?: string; token?: string; queues?: string } = {}, input?: string): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['CALLGUARD_URL', 'CALLGUARD_TOKEN', 'CALLGUARD_QUEUES']) delete childEnv[name];
  if (env.url !== undefined) childEnv.CALLGUARD_URL = env.url;
  if (env.token !== undefined) childEnv.CALLGUARD_TOKEN = env.token;
  if (env.queues !== undefined) childEnv.CALLGUARD_QUEUES = env.queues;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);

const status = async (t: TestHttp) => (await request(`${t.url}/health/service`, { token: tokenOf('viewer') })).json;

/** A port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('callguard CLI against a running callguard', () => {
  let t: TestHttp;
  let as: (role: 'admin' | 'viewer' | 'alerts') => { url: string; token: string };

  beforeAll(async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
    as = (role) => ({ url: t.url, token: tokenOf(role) });
  });
  afterEach(async () => {
    await postJson(`${t.url}/health/resume`, {}, { token: tokenOf('admin') });
  });
  afterAll(() => stopTestHttp(t));

  it('when nothing is held, then status says every queue is running and lists the rules with count/threshold', async () => {
    const run = await cli(['status'], as('viewer'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\s+calls\s+running\s/m);
    expect(run.stdout).toMatch(/^\s+sms\s+running\s/m);
    expect(run.stdout).toContain('holds: none');
    expect(run.stdout).toMatch(/^\s+twilio\s+0\/5 in 2 min\s+calls/m);
    expect(run.stdout).toMatch(/^\s+plivo\s+0\/50 in 10 min\s+all queues/m);
  });

  it('when --json is given, then status prints the API answer unchanged', async () => {
    const run = await cli(['status', '--json'], as('viewer'));
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout);
    const direct = await status(t);
    const { now: _a, queues: _b, events_queue: _c, snapshot_age_ms: _d, ...stable } = direct;
    expect(printed).toMatchObject(stable);
    expect(Object.keys(printed).sort()).toEqual(Object.keys(direct).sort());
  });

  it('when --url is given instead of CALLGUARD_URL, then it is used (global options work before the command too)', async () => {
    const run = await cli(['--url', t.url, '--json', 'status'], { token: tokenOf('viewer') });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).holds).toEqual([]);
  });

  it('when an admin pauses with a reason, queues and a duration, then the hold is in the API in the token principal’s name', async () => {
    const before = Date.now();
    const run = await cli(['pause', '--reason', 'SMS carrier maintenance', '--queues', 'sms', '--until', '30m'], as('admin'));
    const after = Date.now();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const s = await status(t);
    expect(s.holds).toHaveLength(1);
    const [hold] = s.holds;
    expect(hold).toMatchObject({
      kind: 'manual',
      effect: 'pause',
      scope: ['sms'],
      by: USERS.admin.name,
      reason: 'SMS carrier maintenance',
    });
    const until = Date.parse(hold.until);
    expect(until).toBeGreaterThanOrEqual(before + 30 * 60_000 - 1000);
    expect(until).toBeLessThanOrEqual(after + 30 * 60_000 + 1000);
    expect(s.queues.sms.paused).toBe(true);
    expect(s.queues.calls.paused).toBe(false);
    expect(run.stdout).toContain(`hold ${hold.id} added by ${USERS.admin.name} over sms until ${hold.until}`);
    expect(run.stdout).toContain('paused now: sms');

    const shown = await cli(['status'], as('viewer'));
    expect(shown.stdout).toMatch(/^\s+sms\s+paused\s/m);
    expect(shown.stdout).toMatch(/^\s+calls\s+running\s/m);
    expect(shown.stdout).toContain(`${hold.id}  manual  by ${USERS.admin.name}  since ${hold.since}  until ${hold.until}  sms`);
    expect(shown.stdout).toContain('SMS carrier maintenance');
  });

  it('when an admin holds one provider, then pause and status say whose jobs are held and the queue keeps running', async () => {
    const run = await cli(['pause', '--reason', 'Twilio incident', '--queues', 'calls', '--providers', 'twilio'], as('admin'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [hold] = (await status(t)).holds;
    expect(hold).toMatchObject({ providers: ['twilio'], scope: ['calls'] });
    expect(run.stdout).toContain(`hold ${hold.id} added by ${USERS.admin.name} over calls (providers twilio only) until resumed`);
    expect(run.stdout).toContain('paused now: calls:twilio');
    const shown = await cli(['status'], as('viewer'));
    expect(shown.stdout).toMatch(/^\s+calls\s+running\s/m);
    expect(shown.stdout).toContain('calls (providers twilio only)');
    // Not PAUSED: no queue is paused, only twilio's jobs are held.
    expect(shown.stdout.split('\n')[0]).toMatch(/^callguard \S+ {2}provider held \(twilio; queues running\) {2}auto-pause on/);
  });

  it('when --until is an ISO time with an offset, then the hold lifts at that instant', async () => {
    const at = new Date(Date.now() + 2 * 3_600_000);
    at.setUTCMilliseconds(0);
    const local = `${at.toISOString().slice(0, 19)}+00:00`;
    const run = await cli(['pause', '--reason', 'window', '--until', local, '--json'], as('admin'));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).hold.until).toBe(at.toISOString());
    expect((await status(t)).holds[0].until).toBe(at.toISOString());
  });

  it('when an admin resumes some queues, then their holds are released and audit --limit shows both changes by that admin', async () => {
    await cli(['pause', '--reason', 'SMS carrier maintenance', '--queues', 'sms'], as('admin'));
    const run = await cli(['resume', '--queues', 'sms'], as('admin'));
    expect(run.code).toBe(0);
    const s = await status(t);
    expect(s.holds).toEqual([]);
    expect(s.queues.sms.paused).toBe(false);
    expect(run.stdout).toContain(`released by ${USERS.admin.name}: manual:`);
    expect(run.stdout).toContain('resumed now: sms');

    const audit = await cli(['audit', '--limit', '2', '--json'], as('viewer'));
    expect(audit.code).toBe(0);
    const { entries } = JSON.parse(audit.stdout);
    expect(entries.map((e: { event: string; by: string }) => [e.event, e.by])).toEqual([
      ['hold-released', USERS.admin.name],
      ['hold-added', USERS.admin.name],
    ]);
    const text = await cli(['audit', '--limit', '2'], as('viewer'));
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/hold-released\s+manual:\S+\s+by ops-admin\s+resumed sms/);
    expect(lines[1]).toMatch(/hold-added\s+manual:\S+\s+by ops-admin\s+paused sms\s+SMS carrier maintenance/);
  });

  it('when nothing holds the queues, then resume says so and exits 0', async () => {
    const run = await cli(['resume'], as('admin'));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('nothing to release');
  });

  it('when the token is wrong, then exit 1 with the API’s message and nothing changes', async () => {
    const direct = await request(`${t.url}/health/service`, { token: 'not-a-configured-secret-at-all' });
    const run = await cli(['status'], { url: t.url, token: 'not-a-configured-secret-at-all' });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(direct.json.error.message);
    expect(run.stderr).toContain('401 unauthorized');
  });

  it('when a viewer tries to pause, then exit 1 with the API’s 403 message and no hold', async () => {
    const direct = await postJson(`${t.url}/health/pause`, { reason: 'x' }, { token: tokenOf('viewer') });
    const run = await cli(['pause', '--reason', 'x'], as('viewer'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(direct.json.error.message);
    expect((await status(t)).holds).toEqual([]);
  });

  it('when a queue is not configured, then exit 1 with the API’s validation message', async () => {
    const direct = await postJson(`${t.url}/health/pause`, { reason: 'x', queues: ['nope'] }, { token: tokenOf('admin') });
    expect(direct.status).toBe(400);
    const run = await cli(['pause', '--reason', 'x', '--queues', 'nope'], as('admin'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(direct.json.error.message);
    expect((await status(t)).holds).toEqual([]);
  });

  it('when CALLGUARD_TOKEN is missing, then exit 2 without a request', async () => {
    const run = await cli(['status'], { url: t.url });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('CALLGUARD_TOKEN is not set');
  });

  it('when nothing listens at the URL, then exit 1 naming the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await cli(['status'], { url, token: tokenOf('viewer') });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot connect to callguard at ${url}/`);
  });

  it.each([
    ['pause without --reason', ['pause']],
    ['--until neither ISO nor a duration', ['pause', '--reason', 'x', '--until', 'tomorrow']],
    ['--until without an offset', ['pause', '--reason', 'x', '--until', '2030-01-01T10:00:00']],
    ['--until of zero', ['pause', '--reason', 'x', '--until', '0m']],
    ['--limit out of range', ['audit', '--limit', '501']],
    ['an empty --queues', ['resume', '--queues', ' , ']],
    ['an unknown command', ['unpause']],
    ['no command', []],
    ['a --url that is not a URL', ['--url', 'localhost:3000', 'status']],
  ])('when given %s, then exit 2 and nothing changes', async (_what, args) => {
    const run = await cli(args, as('admin'));
    expect(run.code).toBe(2);
    expect(run.stderr).not.toBe('');
    expect((await status(t)).holds).toEqual([]);
  });
});

describe('callguard check-rules against a running callguard', () => {
  let t: TestHttp;
  let dir: string;
  // A rate rule that reads a provider nobody reports (a typo), and a capacity for one that reports.
  const MISSPELT = {
    rules: { twilio_rate: { window_minutes: 5, failure_rate: 0.5, providers: ['twillio'] } },
    providers: { plivo: { max_per_second: 30 } },
  };

  beforeAll(async () => {
    t = await startTestHttp({
      rules: { ...RULES, twilio_rate: { window_minutes: 5, failure_rate: 0.5, providers: ['twilio', 'exotel'] } },
      providers: { sinch: { max_per_second: 5 } },
    });
    dir = mkdtempSync(join(tmpdir(), 'callguard-cli-'));
    const calls = ['twilio', 'plivo'].map((provider) => ({ provider, ok: true, duration_ms: 100 }));
    expect((await postJson(`${t.url}/providers/outcomes`, { calls }, { token: tokenOf('alerts') })).status).toBe(202);
    await waitFor(async () => (await request(`${t.url}/health/providers`, { token: tokenOf('viewer') })).json.reported.length === 2, {
      what: 'twilio and plivo reported',
    });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stopTestHttp(t);
  });

  it('when providers have reported calls, then GET /health/providers lists them and the rules’ providers nobody reported', async () => {
    const reply = await request(`${t.url}/health/providers`, { token: tokenOf('viewer') });
    expect(reply.json).toEqual({ reported: ['plivo', 'twilio'], unreported: ['exotel', 'sinch'] });
    expect((await request(`${t.url}/health/providers`, { token: tokenOf('alerts') })).status).toBe(403);
  });

  it('when the file names a provider nobody reported, then check-rules warns about it (exit 0), not about the reported ones', async () => {
    const path = join(dir, 'misspelt.json');
    writeFileSync(path, JSON.stringify(MISSPELT));
    const run = await cli(['check-rules', path], { url: t.url, token: tokenOf('viewer') });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `warning: ${path}: rule "twilio_rate": provider "twillio" has reported no calls to this callguard (reported: plivo, twilio); it counts nothing unless a worker calls it by this name\n`,
    );
    expect(run.stdout).toContain('1 rule(s) OK (twilio_rate) for queues calls, 1 warning(s)');

    const offline = await cli(['check-rules', path, '--offline'], { url: t.url, token: tokenOf('viewer') });
    expect([offline.code, offline.stderr]).toEqual([0, '']);
    const noToken = await cli(['check-rules', path], { url: t.url });
    expect([noToken.code, noToken.stderr]).toEqual([0, '']);
  });

  it('when the service cannot be asked, then the file is still checked and the warning says providers were not', async () => {
    const path = join(dir, 'misspelt.json');
    writeFileSync(path, JSON.stringify(MISSPELT));
    const run = await cli(['check-rules', path, '--json'], { url: `http://127.0.0.1:${await closedPort()}`, token: tokenOf('viewer') });
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ ok: true, rules: ['twilio_rate'] });
    expect(out.warnings).toEqual([
      expect.stringMatching(/^providers not checked against the running callguard: cannot connect to callguard at/),
    ]);
  });
});

describe('callguard check-rules', () => {
  let dir: string;
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  };
  /** What `npm start` would print before refusing to start. */
  const serverError = (path: string, queues: string[]) => {
    try {
      loadRulesFile(path, queues);
    } catch (err) {
      if (isCallguardError(err)) return `callguard: ${err.message}\n`;
      throw err;
    }
    throw new Error(`${path} unexpectedly loads`);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'callguard-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when the file is valid, then exit 0 naming the rules, no warnings', async () => {
    const path = file('good.json', RULES);
    const run = await cli(['check-rules', path]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${path}: 2 rule(s) OK (twilio, plivo) for queues calls\n`);
  });

  it.each([
    ['a non-positive threshold', { twilio: { threshold_count: 0, window_minutes: 5, log_patterns: ['twilio api error'] } }],
    ['an unknown field and an empty pattern', { twilio: { threshold_count: 5, window_minutes: 5, log_patterns: [' '], queue: ['calls'] } }],
    ['invalid JSON', '{\n  "twilio": { "threshold_count": 5,, }\n}'],
    [
      'a queue outside CALLGUARD_QUEUES',
      { sms: { threshold_count: 5, window_minutes: 5, log_patterns: ['sms gateway down'], queues: ['sms'] } },
    ],
  ])('when the file has %s, then exit 1 with the message the server prints', async (_what, content) => {
    const path = file('bad.json', content);
    const run = await cli(['check-rules', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(serverError(path, ['calls']));
  });

  it('when the file does not exist, then exit 1 naming it', async () => {
    const path = join(dir, 'missing.json');
    const run = await cli(['check-rules', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(serverError(path, ['calls']));
  });

  it('when patterns are too broad, then every lint warning is printed and the exit is still 0', async () => {
    const path = file('broad.json', {
      twilio: { threshold_count: 5, window_minutes: 5, log_patterns: ['twilio', 'error', 'twilio api error'] },
    });
    const { warnings } = loadRulesFile(path, ['calls']);
    expect(warnings.length).toBe(2);
    const run = await cli(['check-rules', path]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(warnings.map((w) => `warning: ${w}\n`).join(''));
    expect(run.stdout).toContain('1 rule(s) OK (twilio) for queues calls, 2 warning(s)');

    const json = await cli(['check-rules', path, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ file: path, ok: true, errors: [], warnings, rules: ['twilio'] });
  });

  it('when a pattern holds terminal control characters, then its warning prints them escaped', async () => {
    const path = file('control.json', { twilio: { threshold_count: 5, window_minutes: 5, log_patterns: ['\u001b[2Jerr'] } });
    const run = await cli(['check-rules', path]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('"\\x1b[2Jerr" is a single short word');
    expect(run.stderr).not.toContain('\u001b');
  });

  it('when rules name queues, then --queues (else CALLGUARD_QUEUES) says which exist', async () => {
    const path = file('queues.json', {
      sms: { threshold_count: 5, window_minutes: 5, log_patterns: ['sms gateway down'], queues: ['sms'] },
    });
    expect((await cli(['check-rules', path, '--queues', 'calls,sms'])).code).toBe(0);
    expect((await cli(['check-rules', path], { queues: 'calls,sms' })).code).toBe(0);
    const refused = await cli(['check-rules', path, '--json'], { queues: 'calls' });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      ok: false,
      errors: [serverError(path, ['calls']).replace(/^callguard: |\n$/g, '')],
    });
  });
});

describe('callguard hash-secret', () => {
  const secret = 'a-long-enough-operator-secret-0123456789';
  let t: TestHttp | undefined;
  afterEach(async () => {
    await stopTestHttp(t);
    t = undefined;
  });

  it('when a secret is piped in, then sha256:<hex> of it is printed (the trailing newline is not part of it)', async () => {
    const run = await cli(['hash-secret'], {}, `${secret}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`sha256:${createHash('sha256').update(secret).digest('hex')}\n`);
    expect(run.stdout).toBe(`${hashSecret(secret)}\n`);
    expect(run.stdout).not.toContain(secret);
  });

  it.each([
    ['nothing', ''],
    ['a short secret', 'short-secret\n'],
    ['two lines', `${secret}\n${secret}-2\n`],
    ['surrounding spaces', ` ${secret}\n`],
  ])('when stdin holds %s, then exit 2 and no hash', async (_what, input) => {
    const run = await cli(['hash-secret'], {}, input);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('when the hashed entry is in CALLGUARD_USERS, then the plain secret authenticates through the CLI and the hash does not', async () => {
    const hash = (await cli(['hash-secret'], {}, secret)).stdout.trim();
    t = await startTestHttp(RULES, { CALLGUARD_USERS: `oncall:admin:${hash}` });

    const paused = await cli(['pause', '--reason', 'hashed entry', '--json'], { url: t.url, token: secret });
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout).hold.by).toBe('oncall');
    const direct = await request(`${t.url}/health/service`, { token: secret });
    expect(direct.json.holds).toEqual([expect.objectContaining({ by: 'oncall', reason: 'hashed entry' })]);

    const withHash = await cli(['status'], { url: t.url, token: hash });
    expect(withHash.code).toBe(1);
    expect(withHash.stderr).toContain('401 unauthorized');
  });

  it('when --generate is given, then a fresh 32-byte secret and its hash are printed, and that pair signs in', async () => {
    const first = await cli(['hash-secret', '--generate', '--json']);
    const second = await cli(['hash-secret', '--generate', '--json']);
    expect(first.code).toBe(0);
    const { secret: generated, hash } = JSON.parse(first.stdout);
    expect(Buffer.from(generated, 'base64url')).toHaveLength(32);
    expect(generated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(hashSecret(generated));
    expect(JSON.parse(second.stdout).secret).not.toBe(generated);

    const text = await cli(['hash-secret', '--generate']);
    expect(text.stdout).toMatch(/^secret: [A-Za-z0-9_-]{43}\nhash: {3}sha256:[0-9a-f]{64}\n$/);

    t = await startTestHttp(RULES, { CALLGUARD_USERS: `deploy-bot:viewer:${hash}` });
    const run = await cli(['status', '--json'], { url: t.url, token: generated });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).is_paused).toBe(false);
  });
});
