/**
 * The commands that need no running callguard: check-rules (which also asks a running one, when
 * the CLI has a token, which providers report) and hash-secret's secret input.
 */
import { MIN_SECRET_LENGTH } from '../http/auth/principals.js';
import { isCallguardError } from '../domain/errors.js';
import { namedProviders } from '../domain/rules.js';
import { loadRulesFile } from '../store/rules-file.js';
import { CliError, EXIT, usage, type CliIo } from './exit.js';
import { safeForTerminal } from './format.js';

/** What a running callguard knows of providers (GET /health/providers). */
export type ReportedProviders = () => Promise<{ reported: string[] }>;

/** A provider the file names that no worker has reported counts nothing: most likely misspelt. */
function unreportedWarnings(file: string, loaded: ReturnType<typeof loadRulesFile>, reported: string[]): string[] {
  const known = reported.length ? reported.join(', ') : 'none yet';
  return namedProviders(loaded.rules, loaded.capacities)
    .filter(({ provider }) => !reported.includes(provider))
    .map(
      ({ provider, where }) =>
        `${file}: ${where}: provider "${provider}" has reported no calls to this callguard (reported: ${known}); it counts nothing unless a worker calls it by this name`,
    );
}

export async function checkRules(file: string, queues: string[], json: boolean, io: CliIo, ask?: ReportedProviders): Promise<void> {
  let loaded: ReturnType<typeof loadRulesFile>;
  try {
    loaded = loadRulesFile(file, queues);
  } catch (err) {
    if (!isCallguardError(err)) throw err;
    if (json) io.out(`${JSON.stringify({ file, ok: false, errors: err.message.split('\n'), warnings: [], rules: [] }, null, 2)}\n`);
    // The same line `npm start` prints before it refuses to start.
    else io.err(`callguard: ${err.message}\n`);
    throw new CliError('', EXIT.failed);
  }
  const names = loaded.rules.map((r) => r.name);
  const warnings = [...loaded.warnings];
  if (ask) {
    // The file is still checked when the service cannot be asked: say so, don't fail.
    const answer = await ask().catch((err: Error) => ({ error: err.message }));
    if ('error' in answer) warnings.push(`providers not checked against the running callguard: ${answer.error}`);
    else warnings.push(...unreportedWarnings(file, loaded, answer.reported));
  }
  if (json) {
    io.out(`${JSON.stringify({ file, ok: true, errors: [], warnings, rules: names }, null, 2)}\n`);
    return;
  }
  // Warnings quote the file and, with a token, the service's answer: neither may steer the terminal.
  for (const w of warnings) io.err(`warning: ${safeForTerminal(w)}\n`);
  const warned = warnings.length ? `, ${warnings.length} warning(s)` : '';
  io.out(`${file}: ${names.length} rule(s) OK (${names.join(', ') || 'none'}) for queues ${queues.join(', ')}${warned}\n`);
}

export async function readSecret(io: CliIo): Promise<string> {
  const raw = io.stdin.isTTY ? await promptHidden(io) : await readAll(io.stdin);
  // `echo secret |` adds a newline that is not part of the secret.
  const secret = raw.replace(/\r?\n$/, '');
  if (!secret) throw usage('no secret on stdin (pipe one in, or use --generate)');
  if (/[\r\n]/.test(secret)) throw usage('stdin holds more than one line; pipe exactly one secret');
  if (secret !== secret.trim()) throw usage('the secret starts or ends with whitespace, which HTTP headers and CALLGUARD_USERS drop');
  if (secret.length < MIN_SECRET_LENGTH)
    throw usage(`secrets are at least ${MIN_SECRET_LENGTH} characters (--generate makes a random one)`);
  return secret;
}

const MAX_STDIN = 4096;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_STDIN) throw usage(`more than ${MAX_STDIN} bytes on stdin; pipe exactly one secret`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal without echoing it: a secret should not stay on screen. */
function promptHidden(io: CliIo): Promise<string> {
  const tty = io.stdin;
  io.err('secret (not shown): ');
  tty.setRawMode(true);
  tty.setEncoding('utf8');
  tty.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (outcome: () => void) => {
      tty.off('data', onData);
      tty.setRawMode(false);
      tty.pause();
      io.err('\n');
      outcome();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new CliError('cancelled', 130)));
        value = ch === '\u007f' || ch === '\b' ? value.slice(0, -1) : value + ch;
      }
      return undefined;
    };
    tty.on('data', onData);
  });
}
