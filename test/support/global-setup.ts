/**
 * Provisions what `npm test` needs on a fresh machine, so the README's `npm ci && npm test` passes
 * with nothing else done: Debian's Chromium for the browser test, a Redis at REDIS_URL, and (as root) a way
 * through to the checkout for the unprivileged user the image tests run as.
 * Installs only as root; otherwise it stops the run with the one command to run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { ensureDebianPackage } from './debian-package.js';

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const REDIS_START = ['--daemonize', 'yes', '--port', '6379', '--save', '', '--appendonly', 'no'];

export default async function setup(): Promise<void> {
  ensureDebianPackage('/usr/bin/chromium', 'chromium');
  await ensureRedis();
  ensureReachableByNobody();
}

/**
 * As root, some tests run the image's start commands as uid 65534 (the image's `node` user is not
 * root either), which must reach the checkout. A checkout under a private directory (`mktemp -d`
 * makes 0700 ones, /root is 0700) would fail them with "Cannot find module": as for Chromium and
 * Redis, the set-up provides what is missing, here the right to pass through (o+x, not to list)
 * on the directories above the checkout, and says so.
 */
function ensureReachableByNobody(): void {
  if (process.getuid?.() !== 0 || nobodyReads()) return;
  const opened: string[] = [];
  for (let dir = dirname(process.cwd()); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      opened.push(dir);
    }
    if (dir === dirname(dir)) break;
  }
  if (opened.length)
    process.stderr.write(`uid 65534 (the image tests' user) could not reach the checkout: added o+x to ${opened.join(', ')}\n`);
  if (!nobodyReads()) {
    throw new Error(
      `uid 65534 cannot read this checkout (${process.cwd()}); the start-command tests run as that user. Make it world-readable.`,
    );
  }
}

function nobodyReads(): boolean {
  const probe = `require('fs').accessSync(${JSON.stringify(join(process.cwd(), 'package.json'))})`;
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
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
