/**
 * `callguard …`: operates a running callguard through its HTTP API, so it works the same against a
 * remote deployment, and checks rules files and hashes secrets offline. src/bin/callguard.mjs runs it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { hashSecret, MIN_SECRET_LENGTH } from '../http/auth/principals.js';
import { isCallguardError } from '../domain/errors.js';
import type { HoldView } from '../http/api/views.js';
import { loadRulesFile } from '../domain/rules.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
const TIMEOUT_MS = 15_000;
const EXIT = { failed: 1, usage: 2 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  stdin: NodeJS.ReadStream;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: process.stdin,
};

/** Ends the command with an exit code; an empty message means the output already said why. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
const usage = (message: string) => new CliError(message, EXIT.usage);

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  try {
    await createProgram(env, io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its message (or the help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.usage;
    if (err instanceof CliError) {
      if (err.message) io.err(`callguard: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`callguard: ${isCallguardError(err) ? err.message : ((err as Error)?.stack ?? String(err))}\n`);
    return EXIT.failed;
  }
}

interface Globals {
  url: string;
  json?: boolean;
}

function createProgram(env: NodeJS.ProcessEnv, io: CliIo): Command {
  const program = new Command('callguard')
    .description('Operate a callguard service through its HTTP API, check rules files, hash secrets.')
    .version(packageVersion())
    // Set before .command(): subcommands copy these settings.
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(callguard --help for usage)')
    .option('--url <url>', 'base URL of the callguard HTTP API (env CALLGUARD_URL)', env.CALLGUARD_URL || DEFAULT_URL)
    .option('--json', 'print the API answer as JSON instead of text')
    .addHelpText(
      'after',
      '\nThe API token is read from CALLGUARD_TOKEN only (a flag would leak into shell history and ps).\n' +
        'Exit codes: 0 done, 1 refused by the API, unreachable or invalid rules, 2 usage error.',
    );

  const client = (cmd: Command) => {
    const g = cmd.optsWithGlobals<Globals>();
    return { api: new ApiClient(baseUrl(g.url), env.CALLGUARD_TOKEN), json: g.json === true };
  };
  const print = (json: boolean, data: unknown, text: () => string) => io.out(json ? `${JSON.stringify(data, null, 2)}\n` : text());

  program
    .command('status')
    .description('paused or running per queue, the holds and the rules (GET /health/service)')
    .action(async (_opts, cmd: Command) => {
      const { api, json } = client(cmd);
      const status = await api.call<StatusView>('GET', 'health/service');
      print(json, status, () => formatStatus(status, api.base));
    });

  program
    .command('pause')
    .description('add a manual hold in the token principal’s name (POST /health/pause)')
    .requiredOption('--reason <text>', 'why, shown in the status, the audit and Slack')
    .addOption(queuesOption('dispatch queues to pause (default: all)'))
    .addOption(new Option('--until <time>', 'lift the hold automatically: ISO time with offset, or a duration such as 30m, 2h, 1h30m').argParser((value: string) => parseUntil(value)))
    .action(async (opts: { reason: string; queues?: string[]; until?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const body = { reason: opts.reason, ...(opts.queues ? { queues: opts.queues } : {}), ...(opts.until ? { until: opts.until } : {}) };
      const res = await api.call<PauseView>('POST', 'health/pause', body);
      print(json, res, () => formatPause(res));
    });

  program
    .command('resume')
    .description('release every hold covering the queues (POST /health/resume)')
    .addOption(queuesOption('dispatch queues to resume (default: all holds)'))
    .option('--reason <text>', 'recorded in the audit')
    .action(async (opts: { queues?: string[]; reason?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const body = { ...(opts.queues ? { queues: opts.queues } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
      const res = await api.call<ResumeView>('POST', 'health/resume', body);
      print(json, res, () => formatResume(res));
    });

  program
    .command('audit')
    .description('hold changes, newest first (GET /health/audit)')
    .addOption(new Option('--limit <n>', 'entries, 1–500').default(20).argParser(parseLimit))
    .action(async (opts: { limit: number }, cmd: Command) => {
      const { api, json } = client(cmd);
      const res = await api.call<{ entries: AuditView[] }>('GET', `health/audit?limit=${opts.limit}`);
      print(json, res, () => formatAudit(res.entries));
    });

  program
    .command('check-rules')
    .description('validate and lint a rules file as `npm start` would, without starting anything')
    .argument('<file>', 'rules file')
    .addOption(queuesOption('dispatch queues the rules may name (default: env CALLGUARD_QUEUES, else calls)'))
    .action((file: string, opts: { queues?: string[] }, cmd: Command) => {
      const json = cmd.optsWithGlobals<Globals>().json === true;
      const queues = opts.queues ?? splitList(env.CALLGUARD_QUEUES ?? '');
      checkRules(file, queues.length ? queues : ['calls'], json, io);
    });

  program
    .command('hash-secret')
    .description('print sha256:<hex> of a secret read from stdin, for CALLGUARD_USERS in place of the secret')
    .option('--generate', 'generate a random 32-byte secret instead, print it once with its hash')
    .action(async (opts: { generate?: boolean }, cmd: Command) => {
      const json = cmd.optsWithGlobals<Globals>().json === true;
      if (opts.generate) {
        const secret = randomBytes(32).toString('base64url');
        const hash = hashSecret(secret);
        print(json, { secret, hash }, () => `secret: ${secret}\nhash:   ${hash}\n`);
        if (!json) io.err('Give the secret to its user (CALLGUARD_TOKEN, Bull Board password); it is not shown again.\nPut the hash in CALLGUARD_USERS: name:role:sha256:…\n');
        return;
      }
      const hash = hashSecret(await readSecret(io));
      print(json, { hash }, () => `${hash}\n`);
    });

  return program;
}

// ---------------------------------------------------------------- HTTP

class ApiClient {
  constructor(
    readonly base: URL,
    private readonly token: string | undefined,
  ) {}

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    if (!this.token) throw usage('CALLGUARD_TOKEN is not set: export the secret of a callguard principal (it is never taken as a flag)');
    const url = new URL(path, this.base);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
        // A redirect would be answered by something other than the API; never resend the token to it.
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      const what = (err as Error)?.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s from` : `cannot connect to`;
      throw new CliError(`${what} callguard at ${this.base.href} (${networkReason(err)}); check --url or CALLGUARD_URL`, EXIT.failed);
    }
    const json = parseJson(text);
    if (!res.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (typeof error?.message === 'string') throw new CliError(`${error.message} (HTTP ${res.status} ${String(error.code)})`, EXIT.failed);
      throw new CliError(`HTTP ${res.status} ${res.statusText} from ${url.href}${text ? `: ${oneLine(text)}` : ''}`, EXIT.failed);
    }
    if (json === undefined) throw new CliError(`${url.href} answered HTTP ${res.status} without JSON; is --url the callguard API?`, EXIT.failed);
    return json as T;
  }
}

function baseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`--url: ${raw} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--url: ${raw} is not an http(s) URL`);
  // Keeps a path prefix (callguard behind a reverse proxy at /callguard/) when routes are resolved against it.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function networkReason(err: unknown): string {
  if ((err as Error)?.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 200);

// ---------------------------------------------------------------- options

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** `--queues a,b`, repeatable. */
function queuesOption(description: string): Option {
  return new Option('--queues <list>', description).argParser((value: string, previous: string[] | undefined) => {
    const list = splitList(value);
    if (!list.length) throw new InvalidArgumentError('expected a comma list of queue names');
    return [...new Set([...(previous ?? []), ...list])];
  });
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return n;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+[smhd])+$/;
// The API takes ISO 8601 with an offset only: a bare local time would mean different instants on the laptop and the server.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** `--until`: a duration from now (`30m`, `2h`, `1h30m`) or an ISO time with offset; sent as ISO UTC. */
export function parseUntil(value: string, nowMs: number = Date.now()): string {
  if (DURATION.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (ms <= 0) throw new InvalidArgumentError('the duration must be longer than zero');
    return new Date(nowMs + ms).toISOString();
  }
  const at = Date.parse(value);
  if (!ISO_WITH_OFFSET.test(value) || Number.isNaN(at)) {
    throw new InvalidArgumentError('expected an ISO time with offset (2025-03-04T18:00:00Z) or a duration such as 30m, 2h, 1h30m');
  }
  return new Date(at).toISOString();
}

// ---------------------------------------------------------------- offline commands

function checkRules(file: string, queues: string[], json: boolean, io: CliIo): void {
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
  if (json) {
    io.out(`${JSON.stringify({ file, ok: true, errors: [], warnings: loaded.warnings, rules: names }, null, 2)}\n`);
    return;
  }
  for (const w of loaded.warnings) io.err(`warning: ${w}\n`);
  const warned = loaded.warnings.length ? `, ${loaded.warnings.length} warning(s)` : '';
  io.out(`${file}: ${names.length} rule(s) OK (${names.join(', ') || 'none'}) for queues ${queues.join(', ')}${warned}\n`);
}

async function readSecret(io: CliIo): Promise<string> {
  const raw = io.stdin.isTTY ? await promptHidden(io) : await readAll(io.stdin);
  // `echo secret |` adds a newline that is not part of the secret.
  const secret = raw.replace(/\r?\n$/, '');
  if (!secret) throw usage('no secret on stdin (pipe one in, or use --generate)');
  if (/[\r\n]/.test(secret)) throw usage('stdin holds more than one line; pipe exactly one secret');
  if (secret !== secret.trim()) throw usage('the secret starts or ends with whitespace, which HTTP headers and CALLGUARD_USERS drop');
  if (secret.length < MIN_SECRET_LENGTH) throw usage(`secrets are at least ${MIN_SECRET_LENGTH} characters (--generate makes a random one)`);
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

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- text output

interface StatusView {
  is_paused: boolean;
  rules: Record<string, { error_count: number; threshold: number; window_minutes: number; queues: string[] | 'all'; clear_since: string | null }>;
  holds: HoldView[];
  queues: Record<string, { paused: boolean; held: boolean; counts: Record<string, number> }>;
  auto_pause: string;
  now: string | null;
}
interface PauseView {
  paused_by: string;
  hold: HoldView;
  newly_paused: string[];
}
interface ResumeView {
  resumed_by: string;
  released: HoldView[];
  newly_resumed: string[];
}
interface AuditView {
  event: string;
  hold: string | null;
  by: string;
  reason: string;
  paused: string[];
  resumed: string[];
  at: string | null;
}

/** The job counts an operator acts on; --json has them all. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

const scopeText = (scope: string[] | 'all') => (scope === 'all' ? 'all queues' : scope.join(', '));

/** Rows of cells as left-aligned columns. */
function table(rows: string[][], indent = '  '): string {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => `${indent}${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd() + '\n').join('');
}

function formatStatus(s: StatusView, base: URL): string {
  let out = `callguard ${base.href}  ${s.is_paused ? 'PAUSED' : 'running'}  auto-pause ${s.auto_pause}  at ${s.now ?? '?'}\n\nqueues\n`;
  out += table(
    Object.entries(s.queues).map(([name, q]) => [
      name,
      // The evaluator repairs a queue whose BullMQ state disagrees with its holds on its next tick.
      q.paused ? (q.held ? 'paused' : 'paused (no hold: resumes on the next tick)') : q.held ? 'running (held: pauses on the next tick)' : 'running',
      JOB_STATES.map((k) => `${k} ${q.counts[k] ?? 0}`).join(', '),
    ]),
  );
  out += `\nholds${s.holds.length ? ` (${s.holds.length})` : ': none'}\n`;
  for (const h of s.holds) {
    const effect = h.effect === 'pause' ? '' : h.effect === 'probe' ? `probe ${h.max_per_minute ?? '?'}/min  ` : `${h.effect}  `;
    out += `  ${h.id}  ${h.kind}  ${effect}by ${h.by}  since ${h.since ?? '?'}${h.until ? `  until ${h.until}` : ''}  ${scopeText(h.scope)}\n`;
    if (h.reason) out += `      ${h.reason}\n`;
  }
  const rules = Object.entries(s.rules);
  out += `\nrules${rules.length ? '' : ': none'}\n`;
  out += table(
    rules.map(([name, r]) => [
      name,
      `${r.error_count}/${r.threshold} in ${r.window_minutes} min${r.error_count >= r.threshold ? ' (over threshold)' : ''}`,
      scopeText(r.queues),
      r.clear_since ? `below threshold since ${r.clear_since}` : '',
    ]),
  );
  return out;
}

function formatPause(r: PauseView): string {
  const until = r.hold.until ? ` until ${r.hold.until}` : ' until resumed';
  const now = r.newly_paused.length ? `paused now: ${r.newly_paused.join(', ')}` : 'no queue changed (already paused)';
  return `hold ${r.hold.id} added by ${r.paused_by} over ${scopeText(r.hold.scope)}${until}\n${now}\n`;
}

function formatResume(r: ResumeView): string {
  if (!r.released.length) return 'nothing to release: no hold covers those queues\n';
  const now = r.newly_resumed.length ? `resumed now: ${r.newly_resumed.join(', ')}` : 'no queue resumed (other holds still cover them)';
  return `released by ${r.resumed_by}: ${r.released.map((h) => h.id).join(', ')}\n${now}\n`;
}

function formatAudit(entries: AuditView[]): string {
  if (!entries.length) return 'no audit entries\n';
  return table(
    entries.map((e) => [
      e.at ?? '?',
      e.event,
      e.hold ?? '-',
      `by ${e.by}`,
      [e.paused.length ? `paused ${e.paused.join(',')}` : '', e.resumed.length ? `resumed ${e.resumed.join(',')}` : '', e.reason].filter(Boolean).join('  '),
    ]),
    '',
  );
}
