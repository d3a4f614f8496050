import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/cli.js';
import { startTestHttp, stopTestHttp, tokenOf, type TestHttp } from './support/http.js';

const RULES = {
  twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio api error'], queues: ['calls'] },
};

async function cli(t: TestHttp, args: string[], role: 'admin' | 'viewer' = 'admin') {
  let out = '';
  let err = '';
  const code = await runCli(
    ['--url', t.url, ...args],
    { CALLGUARD_TOKEN: tokenOf(role) },
    { out: (s) => void (out += s), err: (s) => void (err += s), stdin: process.stdin },
  );
  return { code, out, err };
}

describe('callguard rules … and silence(s) (issue 22)', () => {
  let t: TestHttp | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await stopTestHttp(t);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gets, diffs, dry-runs, applies and rolls back rules, and places, lists and ends a silence', async () => {
    t = await startTestHttp(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_RULES_SOURCE: 'redis' });
    dir = mkdtempSync(join(tmpdir(), 'cg-rules-'));
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify({ twilio: { ...RULES.twilio, threshold_count: 4 } }));

    const got = await cli(t, ['rules', 'get'], 'viewer');
    expect(got.code).toBe(0);
    expect(JSON.parse(got.out)).toEqual(RULES);
    expect(got.err).toMatch(/^version 1 \(seed/);
    const diff = await cli(t, ['rules', 'diff', file], 'viewer');
    expect(diff.out).toContain('twilio.threshold_count: 10 -> 4');
    const dry = await cli(t, ['rules', 'dry-run', file], 'viewer');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/now: would trip none/);
    expect((await cli(t, ['rules', 'apply', file], 'viewer')).code).toBe(1);
    const applied = await cli(t, ['rules', 'apply', file]);
    expect(applied.out).toBe('version 2 is active (was 1)\n');
    const stale = await cli(t, ['rules', 'apply', file, '--if-match', '1']);
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/HTTP 412/);
    expect((await cli(t, ['rules', 'rollback', '1'])).out).toBe('version 3 is active (the rules of version 1)\n');
    expect(t.cg.rules[0]!.thresholdCount).toBe(10);

    const placed = await cli(t, ['silence', 'twilio', '--for', '2h', '--reason', 'false positive']);
    expect(placed.code).toBe(0);
    const id = /^(silence-[0-9a-f-]+):/.exec(placed.out)![1]!;
    expect((await cli(t, ['silences'], 'viewer')).out).toMatch(new RegExp(`^${id}  twilio  until .* by ops-admin: false positive\\n$`));
    expect((await cli(t, ['silences', '--end', id])).out).toBe(`${id} ended\n`);
    expect((await cli(t, ['silences'], 'viewer')).out).toBe('no silences\n');
  });
});
