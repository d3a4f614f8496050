import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UNIT_TESTS } from './vitest.unit.config.js';

/** A port nothing listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run test:unit', () => {
  it('passes with Redis unreachable (REDIS_URL at a closed port), every listed file run, none skipped', async () => {
    const port = await closedPort();
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        'npm',
        ['run', 'test:unit', '--', '--reporter=verbose'],
        { env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(new RegExp(`Test Files\\s+${UNIT_TESTS.length} passed \\(${UNIT_TESTS.length}\\)`));
    // Every test passed: a skipped or todo test would show in the count ("N passed | M skipped (T)").
    expect(output).toMatch(/Tests\s+(\d+) passed \(\1\)/);
  });
});
