/**
 * Provisions what `npm test` needs on a fresh machine, so the README's `npm ci && npm test` passes
 * with nothing else done: Debian's Chromium for the browser test, and a Redis at REDIS_URL.
 * Installs only as root; otherwise it stops the run with the one command to run.
 */
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { ensureDebianPackage } from './debian-package.js';

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const REDIS_START = ['--daemonize', 'yes', '--port', '6379', '--save', '', '--appendonly', 'no'];

export default async function setup(): Promise<void> {
  ensureDebianPackage('/usr/bin/chromium', 'chromium');
  await ensureRedis();
  assertReadableByNobody();
}

/**
 * As root, some tests run the image's start commands as uid 65534 (the image's `node` user is not
 * root either); a checkout under a private directory (mktemp -d makes 0700 ones) fails them with
 * "Cannot find module". Say so once, up front.
 */
function assertReadableByNobody(): void {
  if (process.getuid?.() !== 0) return;
  try {
    execFileSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--',
        process.execPath,
        '-e',
        `require('fs').accessSync(${JSON.stringify(`${process.cwd()}/package.json`)})`,
      ],
      {
        stdio: 'ignore',
      },
    );
  } catch {
    throw new Error(
      `uid 65534 cannot read this checkout (${process.cwd()}); the start-command tests run as that user. Make its parent directories world-readable, e.g. chmod o+rx on them.`,
    );
  }
}

/** True when something at host:port answers PING with PONG within the timeout. */
function pings(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH from a Redis that wants a password: either way Redis is there.
    socket.on('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(String(d))));
  });
}

async function ensureRedis(): Promise<void> {
  const host = REDIS_URL.hostname;
  const port = Number(REDIS_URL.port || 6379);
  if (await pings(host, port)) return;
  const local = (host === '127.0.0.1' || host === 'localhost') && port === 6379;
  const howTo = 'apt-get install -y redis-server && redis-server --daemonize yes --port 6379';
  if (!local) throw new Error(`Redis does not answer at ${host}:${port} (REDIS_URL); the tests need it running.`);
  if (process.getuid?.() === 0) ensureDebianPackage('/usr/bin/redis-server', 'redis-server');
  try {
    execFileSync('redis-server', REDIS_START, { stdio: 'ignore' });
  } catch {
    throw new Error(`Redis does not answer at 127.0.0.1:6379 and redis-server could not be started; run: ${howTo}`);
  }
  const deadline = Date.now() + 10_000;
  while (!(await pings(host, port))) {
    if (Date.now() > deadline) throw new Error(`started redis-server, but 127.0.0.1:6379 does not answer within 10 s; run: ${howTo}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write('Redis did not answer at 127.0.0.1:6379: started redis-server --port 6379 (no persistence)\n');
}
