import { PhraseMatcher } from '../domain/matcher.js';
import { LEVELS as PINO_LEVELS } from '../domain/rules.js';
import type { ErrorSink, Rule } from '../domain/types.js';

export interface LogSinkStats {
  /** Non-empty lines looked at (a pino line below every rule's level is turned away before this). */
  lines: number;
  /** Records that were reported for at least one rule. */
  matched: number;
  /** Lines that were not a JSON object. */
  dropped: number;
  /** Exceptions caught inside the sink (including from the reporter). */
  errors: number;
}

/** A pino destination: pino and pino.multistream only ever call `write`. */
export interface LogSink {
  /** pino(sink) with no options only takes its argument for a stream when this is set. */
  readonly writable: true;
  /**
   * The lowest level any rule counts. pino.multistream reads it from a stream passed as it is,
   * and then never hands the sink a line below it.
   */
  readonly level: number;
  write(chunk: string | Uint8Array): boolean;
  stats(): LogSinkStats;
}

export interface LogSinkOptions {
  rules: Rule[];
  reporter: ErrorSink;
  onError?: (err: unknown) => void;
  /**
   * Where the app's logs go (e.g. pino.destination(1)). The sink then stands in front of it: each
   * line is written there first and only then looked at, so the sink costs no multistream.
   */
  destination?: { write(chunk: string): unknown };
}

// pino's own names plus the syslog and Python spellings other shippers send.
const LEVELS: Record<string, number> = {
  ...PINO_LEVELS,
  information: 30,
  informational: 30,
  notice: 30,
  warning: 40,
  err: 50,
  critical: 60,
  crit: 60,
  alert: 60,
  emerg: 60,
  emergency: 60,
  panic: 60,
};

/** Numbers are taken as pino levels; names (any case) as pino, syslog or Python level names. */
export function levelValue(level: unknown): number | undefined {
  if (typeof level === 'number') return Number.isFinite(level) ? level : undefined;
  if (typeof level !== 'string') return undefined;
  const name = level.trim().toLowerCase();
  if (/^\d+$/.test(name)) return Number(name);
  return Object.hasOwn(LEVELS, name) ? LEVELS[name] : undefined;
}

/**
 * Rule names a log record should count for. Accepts pino records and those relayed by Vector /
 * Fluent Bit. Records without a recognisable level never match: counting them could pause
 * dispatch on info lines that merely mention a provider.
 */
export function matchRecord(
  record: unknown,
  matcher: PhraseMatcher,
  rulesByName: ReadonlyMap<string, Pick<Rule, 'minLevel'>>,
): string[] {
  if (!isObject(record)) return [];
  // callguard's own warnings mention the rules' phrases; counting them would feed back into holds.
  if (record.callguard === true) return [];
  const level = firstDefined([record.level, record.severity, record.levelname], levelValue);
  if (level === undefined) return [];
  const text = recordText(record);
  if (text === '') return [];
  const names: string[] = [];
  for (const name of matcher.match(text)) {
    const rule = rulesByName.get(name);
    if (rule !== undefined && rule.minLevel <= level) names.push(name);
  }
  return names;
}

export function createLogSink(opts: LogSinkOptions): LogSink {
  const { reporter, onError } = opts;
  const matcher = new PhraseMatcher(opts.rules);
  const rulesByName = new Map(opts.rules.map((r) => [r.name, r]));
  const counts: LogSinkStats = { lines: 0, matched: 0, dropped: 0, errors: 0 };
  const decoder = new TextDecoder();
  const lowestLevel = Math.min(...opts.rules.map((r) => r.minLevel));

  // multistream calls write() without try/catch, so anything escaping here breaks logger.info().
  const fail = (err: unknown): void => {
    counts.errors++;
    try {
      onError?.(err);
    } catch {
      // onError is the last resort; nowhere left to send its failure.
    }
  };

  const handleLine = (line: string): void => {
    // pino writes the numeric level first; most lines are below every rule's level, and skipping
    // them before JSON.parse keeps the sink cheap on the app's logging path.
    const level = PINO_LEVEL_PREFIX.exec(line);
    if (level && Number(level[1]) < lowestLevel) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      counts.dropped++;
      return;
    }
    if (!isObject(record)) {
      counts.dropped++;
      return;
    }
    const names = matchRecord(record, matcher, rulesByName);
    if (names.length > 0) counts.matched++;
    for (const name of names) {
      try {
        reporter.report(name, 1);
      } catch (err) {
        fail(err);
      }
    }
  };

  const destination = opts.destination;
  return {
    writable: true,
    level: lowestLevel,
    write(chunk) {
      if (destination) destination.write(chunk as string);
      // Fast path for pino's own lines ({"level":30,…\n): below every rule, nothing is allocated.
      if (typeof chunk === 'string' && belowLevel(chunk, lowestLevel)) return true;
      try {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk);
        for (const line of text.split('\n')) {
          if (line.trim() === '') continue;
          counts.lines++;
          try {
            handleLine(line);
          } catch (err) {
            fail(err);
          }
        }
      } catch (err) {
        fail(err);
      }
      return true;
    },
    stats: () => ({ ...counts }),
  };
}

const PINO_LEVEL_PREFIX = /^\{"level":(\d+),/;
const LEVEL_KEY = '{"level":';

/** A single pino line whose numeric level is below `lowest`, read without a regex or a copy. */
function belowLevel(line: string, lowest: number): boolean {
  if (!line.startsWith(LEVEL_KEY)) return false;
  let level = 0;
  let i = LEVEL_KEY.length;
  for (let c = line.charCodeAt(i); c >= 48 && c <= 57; c = line.charCodeAt(++i)) level = level * 10 + c - 48;
  if (i === LEVEL_KEY.length || line.charCodeAt(i) !== 44 /* , */) return false;
  // A chunk with several lines is left to the careful path.
  return level < lowest && line.indexOf('\n') >= line.length - 1;
}

function recordText(record: Record<string, unknown>): string {
  const parts: string[] = [];
  const msg = [record.msg, record.message, record.log].find((v) => typeof v === 'string');
  if (msg !== undefined) parts.push(msg as string);
  for (const err of [record.err, record.error]) {
    if (typeof err === 'string') parts.push(err);
    else if (isObject(err) && typeof err.message === 'string') parts.push(err.message);
  }
  // Phrases are single-line, so joining on \n keeps a phrase from matching across two fields.
  return parts.join('\n');
}

function firstDefined<T>(values: unknown[], map: (v: unknown) => T | undefined): T | undefined {
  for (const v of values) {
    const mapped = map(v);
    if (mapped !== undefined) return mapped;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
