/**
 * `callguard …`: operates a running callguard through its HTTP API, so it works the same against a
 * remote deployment, and checks rules files and hashes secrets offline. src/cli/bin.mjs runs it; the other files here are its parts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { hashSecret } from '../http/auth/principals.js';
import { isCallguardError } from '../domain/errors.js';
import type { AuditView, PauseView, ResumeView, ServiceStatusView, SilenceView } from '../http/api/views.js';
import type { ActiveRulesView, RulesDiffView, RulesDryRunView, RulesVersionView } from '../http/api/views.js';
import { ApiClient, baseUrl, DEFAULT_URL } from './api-client.js';
import { CliError, EXIT, type CliIo } from './exit.js';
import { formatAudit, formatDryRun, formatPause, formatResume, formatRulesDiff, formatStatus, safeForTerminal } from './format.js';
import { checkRules, readSecret } from './offline.js';
import { parseLimit, parseUntil, queuesOption, providersOption, splitList } from './options.js';

export { DEFAULT_URL, parseUntil, type CliIo };

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: process.stdin,
};

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  try {
    await createProgram(env, io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its message (or the help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.usage;
    if (err instanceof CliError) {
      // Server answers quote what was sent: shown, never interpreted by the terminal.
      if (err.message) io.err(`callguard: ${safeForTerminal(err.message)}\n`);
      return err.exitCode;
    }
    io.err(`callguard: ${isCallguardError(err) ? safeForTerminal(err.message) : ((err as Error)?.stack ?? String(err))}\n`);
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
  const print = (json: boolean, data: unknown, text: () => string) => io.out(json ? jsonForTerminal(data) : text());

  program
    .command('status')
    .description('paused or running per queue, the holds and the rules (GET /health/service)')
    .action(async (_opts, cmd: Command) => {
      const { api, json } = client(cmd);
      const status = await api.call<ServiceStatusView>('GET', 'health/service');
      print(json, status, () => formatStatus(status, api.base));
    });

  program
    .command('pause')
    .description('add a manual hold in the token principal’s name (POST /health/pause)')
    .requiredOption('--reason <text>', 'why, shown in the status, the audit and Slack')
    .addOption(queuesOption('dispatch queues to pause (default: all)'))
    .addOption(providersOption('hold only these providers’ jobs in the queues (guarded workers park them; the queues keep running)'))
    .addOption(
      new Option('--until <time>', 'lift the hold automatically: ISO time with offset, or a duration such as 30m, 2h, 1h30m').argParser(
        (value: string) => parseUntil(value),
      ),
    )
    .action(async (opts: { reason: string; queues?: string[]; providers?: string[]; until?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const body = {
        reason: opts.reason,
        ...(opts.queues ? { queues: opts.queues } : {}),
        ...(opts.providers ? { providers: opts.providers } : {}),
        ...(opts.until ? { until: opts.until } : {}),
      };
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
      const res = await api.call<AuditView>('GET', `health/audit?limit=${opts.limit}`);
      print(json, res, () => formatAudit(res.entries));
    });

  const rules = program.command('rules').description('the shared rules: read, compare, dry-run, apply, roll back (/health/rules)');
  const readProposal = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`, EXIT.failed);
    }
  };
  rules
    .command('get')
    .description('the active version; the rules alone are printed as a rules file (GET /health/rules)')
    .action(async (_opts, cmd: Command) => {
      const { api, json } = client(cmd);
      const v = await api.call<ActiveRulesView>('GET', 'health/rules');
      if (!json) io.err(safeForTerminal(`version ${v.version} (${v.source}, by ${v.by}, at ${v.at})`) + '\n');
      print(json, v, () => jsonForTerminal(v.content));
    });
  // A proposed rules file posted to the API, its answer printed: nothing is published.
  const propose = <V>(name: string, description: string, format: (res: V) => string) =>
    rules
      .command(name)
      .description(`${description} (POST /health/rules/${name})`)
      .argument('<file>', 'proposed rules file')
      .action(async (file: string, _opts, cmd: Command) => {
        const { api, json } = client(cmd);
        const res = await api.call<V>('POST', `health/rules/${name}`, readProposal(file));
        print(json, res, () => format(res));
      });
  propose<RulesDiffView>('diff', 'validate a rules file and list what it changes against the active version', formatRulesDiff);
  propose<RulesDryRunView>('dry-run', 'what a rules file would do now and over the last 24 hours', formatDryRun);
  rules
    .command('apply')
    .description('publish a rules file as the next version (PUT /health/rules; CALLGUARD_RULES_SOURCE=redis)')
    .argument('<file>', 'rules file')
    .option('--if-match <version>', 'the version the change was made against (default: the active one, read first)')
    .action(async (file: string, opts: { ifMatch?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const content = readProposal(file);
      const expected = opts.ifMatch ?? String((await api.call<ActiveRulesView>('GET', 'health/rules')).version);
      const v = await api.call<ActiveRulesView>('PUT', 'health/rules', content, { 'if-match': `"${expected}"` });
      print(json, v, () => `version ${v.version} is active (was ${expected})\n`);
    });
  rules
    .command('rollback')
    .description('make a kept version’s rules active again, as a new version (POST /health/rules/rollback)')
    .argument('<version>', 'the version to go back to', (value: string) => parseLimit(value))
    .action(async (version: number, _opts, cmd: Command) => {
      const { api, json } = client(cmd);
      const v = await api.call<RulesVersionView>('POST', 'health/rules/rollback', { version });
      print(json, v, () => `version ${v.version} is active (the rules of version ${version})\n`);
    });

  program
    .command('silence')
    .description('silence rules: counting goes on, no hold is placed, a hold they have is released (POST /health/silences)')
    .argument('<rules...>', 'rule names')
    .addOption(
      new Option('--for <duration>', 'how long: a duration such as 30m, 2h, 1h30m, or an ISO end time')
        .argParser((value: string) => parseUntil(value))
        .makeOptionMandatory(),
    )
    .requiredOption('--reason <text>', 'why, shown in the status, the audit and Slack')
    .action(async (names: string[], opts: { for: string; reason: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const s = await api.call<SilenceView>('POST', 'health/silences', { rules: names, until: opts.for, reason: opts.reason });
      print(json, s, () => safeForTerminal(`${s.id}: ${s.rules.join(', ')} silenced until ${s.until}`) + '\n');
    });
  program
    .command('silences')
    .description('the silences in force (GET /health/silences); --end ID ends one early (DELETE)')
    .option('--end <id>', 'end this silence now')
    .action(async (opts: { end?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      if (opts.end) {
        const s = await api.call<SilenceView>('DELETE', `health/silences/${encodeURIComponent(opts.end)}`);
        print(json, s, () => safeForTerminal(`${s.id} ended`) + '\n');
        return;
      }
      const res = await api.call<{ silences: SilenceView[] }>('GET', 'health/silences');
      print(json, res, () =>
        res.silences.length
          ? res.silences
              .map((s) => safeForTerminal(`${s.id}  ${s.rules.join(',')}  until ${s.until}  by ${s.by}: ${s.reason}`) + '\n')
              .join('')
          : 'no silences\n',
      );
    });

  program
    .command('check-rules')
    .description('validate and lint a rules file as `npm start` would, without starting anything')
    .argument('<file>', 'rules file')
    .addOption(queuesOption('dispatch queues the rules may name (default: env CALLGUARD_QUEUES, else calls)'))
    .option('--offline', 'with CALLGUARD_TOKEN set, still do not ask the running callguard which providers report')
    .action(async (file: string, opts: { queues?: string[]; offline?: boolean }, cmd: Command) => {
      const json = cmd.optsWithGlobals<Globals>().json === true;
      const queues = opts.queues ?? splitList(env.CALLGUARD_QUEUES ?? '');
      const ask =
        env.CALLGUARD_TOKEN && !opts.offline ? () => client(cmd).api.call<{ reported: string[] }>('GET', 'health/providers') : undefined;
      await checkRules(file, queues.length ? queues : ['calls'], json, io, ask);
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
        if (!json)
          io.err(
            'Give the secret to its user (CALLGUARD_TOKEN, Bull Board password); it is not shown again.\nPut the hash in CALLGUARD_USERS: name:role:sha256:…\n',
          );
        return;
      }
      const hash = hashSecret(await readSecret(io));
      print(json, { hash }, () => `${hash}\n`);
    });

  return program;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** JSON escapes C0 controls itself; C1 controls and bidi overrides become \u escapes too (still the same JSON). */
function jsonForTerminal(data: unknown): string {
  return `${JSON.stringify(data, null, 2).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}
