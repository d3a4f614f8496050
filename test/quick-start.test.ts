/**
 * docs/quick-start.md runs as written: its shell blocks, in order, in one bash, in an empty
 * folder, with the files it says to save written where it says. Three substitutions only: the
 * packages come from this checkout's tarballs (they are not on the registry yet), the port is a
 * free one, and the Redis key prefixes are this test's own (set in the environment, which the
 * page's dispatch.mjs reads with the defaults a user gets).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBuilt, npmEnv, packPackage } from './support/build.js';
import { cleanup, REDIS_URL, testConfig } from './support/harness.js';
import { figure } from './support/figures.js';

const PAGE = 'docs/quick-start.md';
const INSTALL = 'npm install @callguard-dev/server @callguard-dev/client';

/** The page as one bash script: shell blocks as they are, `<!-- file: x -->` blocks written to x. */
function quickStartScript(page: string, tarballs: string[], port: number): { script: string; shellLines: number } {
  const lines = page.split('\n');
  const out: string[] = [];
  let shellLines = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === '```');
    const code = lines.slice(i + 1, end);
    const file = /^<!-- file: (\S+) -->$/.exec(lines[i - 1] ?? '')?.[1];
    if (file) out.push(`cat > ${file} <<'CG_QUICK_START_EOF'`, ...code, 'CG_QUICK_START_EOF');
    else if (open[1] === 'sh') {
      shellLines += code.filter((l) => l.trim() && !l.trim().startsWith('#')).length;
      out.push(
        ...code.map((l) =>
          l
            .replace(INSTALL, `npm install ${tarballs.join(' ')} --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error`)
            .replace('PORT=3000', `PORT=${port}`),
        ),
      );
    }
    i = end;
  }
  return { script: out.join('\n'), shellLines };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const dir = mkdtempSync(join(tmpdir(), 'cg-quick-start-'));
const config = testConfig();
afterAll(async () => {
  await cleanup(config);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe(PAGE, () => {
  it('runs end to end: twilio held within the run while plivo runs, all 60 calls placed, the hold audited', async () => {
    await ensureBuilt();
    const tarballs = [(await packPackage('packages/client', dir)).filename, (await packPackage('.', dir)).filename];
    const page = readFileSync(PAGE, 'utf8');
    expect(page).toContain(INSTALL);
    expect(page).toContain('PORT=3000');
    const { script, shellLines } = quickStartScript(page, tarballs, await freePort());
    // If a line fails, the service started in the background must not outlive the test.
    const full = `set -euo pipefail\ntrap 'kill $CALLGUARD_PID 2>/dev/null || true' EXIT\nCALLGUARD_PID=\n${script}\n`;
    const child = spawn('bash', ['-c', full], {
      cwd: dir,
      env: { ...npmEnv(), REDIS_URL, CALLGUARD_PREFIX: config.prefix, CALLGUARD_QUEUE_PREFIX: config.queuePrefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const log = (() => {
      try {
        return readFileSync(join(dir, 'dialer/callguard.log'), 'utf8');
      } catch {
        return '(no callguard.log)';
      }
    })();
    figure(`${shellLines} shell lines run; output:\n${out}`);
    expect(code, `${out}\n--- callguard.log ---\n${log}`).toBe(0);
    expect(out).toMatch(/rules\.json: 1 rule\(s\) OK \(twilio-calls\) for queues calls/);
    expect(out).toContain('placed 60/60 (twilio 30, plivo 30)');
    // The audit (newest first) has the provider hold placed and released.
    expect(out).toMatch(/hold-added +rule:twilio-calls +by callguard +paused calls:twilio /);
    expect(out).toMatch(/hold-released +rule:twilio-calls +by callguard +resumed calls:twilio /);
    expect(log).toContain('callguard started');
    expect(log).toContain('"msg":"stopping"');
  }, 240_000);
});
