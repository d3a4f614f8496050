import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run bench', () => {
  it('when every benchmark runs with tiny sizes, then each prints its line and the run ends cleanly', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('node_modules/.bin/tsx', ['bench/run.ts', '--smoke'], { timeout: 170_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const id of [
      'REF',
      'P1',
      'P2',
      'P2b',
      'P3',
      'P3s',
      'P3s2',
      'P3h',
      'P4',
      'P5',
      'P6',
      'P7',
      'P7l',
      'P8',
      'P9',
      'P10',
      'P10b',
      'P11',
      'P12',
      'P12l',
      'P12t',
      'P12p',
      'P13',
      'P13r',
      'P14',
    ]) {
      expect(stdout, `line for ${id}`).toMatch(new RegExp(`^${id}\\s+\\S`, 'm'));
    }
    expect(stdout).toMatch(/^bench \(smoke\) finished in \d+ s/m);
  }, 180_000);
});
