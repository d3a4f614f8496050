import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { REDIS_URL } from './support/harness.js';

describe('npm run demo', () => {
  it('trips, pauses, resumes after the clear delay, drains every call, exits 0 and leaves no keys', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile('npm', ['run', '--silent', 'demo'], { timeout: 60_000, env: { ...process.env, PORT: '0' } }, (err, out) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out }),
      );
    });
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const at = (tag: string) => lines.findIndex((l) => new RegExp(`^\\s*\\+[\\d.]+s\\s+${tag}\\b`).test(l));
    expect(lines[at('TRIP')]).toContain('twilio:');
    expect(lines[at('PAUSED')]).toContain('queue calls paused by hold rule:twilio');
    expect(lines[at('RESUME')]).toContain('rule:twilio released');
    expect(lines[at('DRAINED')]).toContain('jobs in = jobs out');
    expect(at('TRIP')).toBeLessThan(at('CLEAR'));
    expect(at('CLEAR')).toBeLessThan(at('RESUME'));
    expect(at('RESUME')).toBeLessThan(at('DRAINED'));
    expect(stdout).toMatch(/Bull Board: http:\/\/127\.0\.0\.1:\d+\/admin\/queues\s+login: demo \/ \S+/);
    expect(stdout).toMatch(/demo finished in \d+\.\d s/);

    const [, prefix, queuePrefix] = /Redis prefixes: (\S+) (\S+)/.exec(stdout)!;
    const redis = new Redis(REDIS_URL);
    try {
      for (const pattern of [`${prefix}:*`, `${queuePrefix}:*`]) {
        const left: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          left.push(...keys);
        } while (cursor !== '0');
        expect(left).toEqual([]);
      }
    } finally {
      redis.disconnect();
    }
  }, 70_000);
});
