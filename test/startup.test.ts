import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cg-start-'));

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node_modules/.bin/tsx',
      ['src/app/main.ts'],
      { env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', PORT: '0', ...env }, timeout: 15_000 },
      (err, _stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr });
      },
    );
  });
}

function rulesFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('npm start refuses bad input with one clear line', () => {
  it.each([
    {
      name: 'unknown rule field',
      content: '{"twilio": {"threshold_count": 10, "window_minutes": 5, "log_patterns": ["x y"], "treshold": 1}}',
      expected: 'rule "twilio": field treshold: unknown field',
    },
    {
      name: 'zero threshold',
      content: '{"twilio": {"threshold_count": 0, "window_minutes": 5, "log_patterns": ["x y"]}}',
      expected: 'rule "twilio": field threshold_count',
    },
    {
      name: 'empty pattern',
      content: '{"twilio": {"threshold_count": 1, "window_minutes": 5, "log_patterns": [""]}}',
      expected: 'rule "twilio": field log_patterns.0: empty pattern',
    },
    { name: 'bad JSON', content: '{"twilio": {"threshold_count": 1,\n}', expected: 'invalid JSON' },
  ])('rules file with $name', async ({ name, content, expected }) => {
    const path = rulesFile(`${name.replace(/\s/g, '-')}.json`, content);
    const { code, stderr } = await start({ CALLGUARD_RULES: path });
    expect(code).toBe(1);
    expect(stderr).toContain(`callguard: ${path}:`);
    expect(stderr).toContain(expected);
  });

  it.each([
    ['CALLGUARD_MINUTE_SECONDS', '0'],
    ['CALLGUARD_AUTO_PAUSE', 'sometimes'],
    ['CALLGUARD_QUEUES', 'calls:eu'],
  ])('environment %s=%s', async (name, value) => {
    const { code, stderr } = await start({ [name]: value });
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^callguard: invalid environment: .*${name}: `));
    expect(stderr).not.toContain(`${name}=`);
  });

  it('unreachable Redis: names the URL and how to start one', async () => {
    const { code, stderr } = await start({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('Redis is not reachable at redis://127.0.0.1:1');
    expect(stderr).toContain('redis-server');
    // The hint names the port REDIS_URL gave, not Redis' default.
    expect(stderr).toContain('redis-server --daemonize yes --port 1,');
  });
});
