import { PhraseMatcher } from '../domain/matcher.js';
import { levelValue, readLogRecord, type LevelScale } from '../domain/log-record.js';
import type { ErrorSink, Rule } from '../domain/types.js';

export interface LogSinkStats {
  /** Non-empty lines looked at (a pino line below every rule's level is turned away before this). */
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

/** The lowest level any rule counts, on pino's scale (a reading's): a record below it matches none. */
export function lowestLevel(rules: ReadonlyArray<Pick<Rule, 'minLevel'>>): number {
  return Math.min(...rules.map((r) => r.minLevel));
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
  const lowest = lowestLevel(opts.rules);
  // The shortcuts before parsing read pino's own numbers; on another scale every line is parsed.
  const rawLowest = scale === 'pino' ? lowest : -Infinity;

  // multistream calls write() without try/catch, so anything escaping here breaks logger.info().
  const fail = (err: unknown): void => {
    counts.errors++;
    try {
      onError?.(err);
    } catch {
      // onError is the last resort; nowhere left to send its failure.
    }
  };

  /** `leveled`: pino handed over this line's level and it reaches a rule's, so the prefix is not read. */
  const handleLine = (line: string, leveled = false): void => {
    // pino writes the numeric level first; most lines are below every rule's level, and skipping
    // them before JSON.parse keeps the sink cheap on the app's logging path.
    if (!leveled) {
      const level = PINO_LEVEL_PREFIX.exec(line);
      if (level && Number(level[1]) < rawLowest) return;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      counts.dropped++;
      return;
    }
    const reading = readLogRecord(record, scale);
    if (reading.kind === 'dropped') counts.dropped++;
    if (reading.kind !== 'record' || reading.level < lowest) return;
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

  const destination = opts.destination;
  const sink = {
    writable: true as const,
    level: rawLowest,
    // pino and pino.multistream set these on a stream marked this way just before each write.
    [PINO_METADATA]: true,
    lastLevel: undefined as unknown,
    lastObj: undefined as unknown,
    lastMsg: undefined as unknown,
    lastTime: undefined as unknown,
    lastLogger: undefined as unknown,
    write(chunk: string | Uint8Array): boolean {
      if (destination) destination.write(chunk as string);
      // Fast path for pino's own lines: the level pino handed over with this write, or failing that
      // the line's {"level":30,… read without a copy; below every rule, nothing is allocated.
      // Taken once, so a later write from anything else is read from its line.
      const level = sink.lastLevel;
      sink.lastLevel = undefined;
      if (typeof level === 'number' ? level < rawLowest : typeof chunk === 'string' && belowLevel(chunk, rawLowest)) return true;
      try {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk);
        // pino writes one record per call, ending in its only newline: read it without a split.
        if (typeof level === 'number' && text.indexOf('\n') === text.length - 1) {
          counts.lines++;
          handleLine(text, true);
          return true;
        }
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
  return sink;
}

/** pino.symbols.needsMetadataGsym: pino hands a stream marked with it each record's level. */
const PINO_METADATA = Symbol.for('pino.metadata');
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
