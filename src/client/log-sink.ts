import { PhraseMatcher } from '../domain/matcher.js';
import { levelValue, readLogRecord, type LevelScale } from '../domain/log-record.js';
import type { ErrorSink, Rule } from '../domain/types.js';

export interface LogSinkStats {
  /** Non-empty lines received. */
  lines: number;
  /** Records that were reported for at least one rule. */
  matched: number;
  /** Lines that were not a JSON object, or a record without a readable level or message. */
  dropped: number;
  /** Exceptions caught inside the sink (including from the reporter). */
  errors: number;
}

/** A pino destination: pino and pino.multistream only ever call `write`. */
export interface LogSink {
  /** pino(sink) with no options only takes its argument for a stream when this is set. */
  readonly writable: true;
  write(chunk: string | Uint8Array): boolean;
  stats(): LogSinkStats;
}

export interface LogSinkOptions {
  rules: Rule[];
  reporter: ErrorSink;
  onError?: (err: unknown) => void;
  /** How bare level numbers are read when a record is not recognisably Python (default pino). */
  levelScale?: LevelScale;
}

export { levelValue };

/**
 * Rule names a log record should count for (see readLogRecord for the shapes understood).
 * Records without a recognisable level never match: counting them could pause dispatch on info
 * lines that merely mention a provider.
 */
export function matchRecord(
  record: unknown,
  matcher: PhraseMatcher,
  rulesByName: ReadonlyMap<string, Pick<Rule, 'minLevel'>>,
  scale: LevelScale = 'pino',
): string[] {
  const reading = readLogRecord(record, scale);
  return reading.kind === 'record' ? rulesFor(reading, matcher, rulesByName) : [];
}

/** Rules whose phrase is in the record's text and whose min_level the record reaches. */
export function rulesFor(
  reading: { level: number; text: string },
  matcher: PhraseMatcher,
  rulesByName: ReadonlyMap<string, Pick<Rule, 'minLevel'>>,
): string[] {
  const names: string[] = [];
  for (const name of matcher.match(reading.text)) {
    const rule = rulesByName.get(name);
    if (rule !== undefined && rule.minLevel <= reading.level) names.push(name);
  }
  return names;
}

export function createLogSink(opts: LogSinkOptions): LogSink {
  const { reporter, onError } = opts;
  const matcher = new PhraseMatcher(opts.rules);
  const rulesByName = new Map(opts.rules.map((r) => [r.name, r]));
  const counts: LogSinkStats = { lines: 0, matched: 0, dropped: 0, errors: 0 };
  const decoder = new TextDecoder();
  const scale = opts.levelScale ?? 'pino';
  // The shortcut below reads pino's numbers; on another scale every line is parsed.
  const lowestLevel = scale === 'pino' ? Math.min(...opts.rules.map((r) => r.minLevel)) : -Infinity;

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
    const reading = readLogRecord(record, scale);
    if (reading.kind === 'dropped') counts.dropped++;
    if (reading.kind !== 'record') return;
    const names = rulesFor(reading, matcher, rulesByName);
    if (names.length > 0) counts.matched++;
    for (const name of names) {
      try {
        reporter.report(name, 1);
      } catch (err) {
        fail(err);
      }
    }
  };

  return {
    writable: true,
    write(chunk) {
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
