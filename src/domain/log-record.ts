/**
 * What a log record says, whatever shipped it: pino, Python's `logging`, loguru's `serialize=True`
 * output, or syslog-ish records relayed by Vector / Fluent Bit. Levels come out on pino's scale,
 * which is the scale rules' `min_level` uses.
 */
import { LEVELS as PINO_LEVELS } from './rules.js';

/** How a bare level number is read when the record itself does not say. */
export const LEVEL_SCALES = ['pino', 'python', 'syslog'] as const;
export type LevelScale = (typeof LEVEL_SCALES)[number];

export type LogRecordReading =
  /** `level` is on pino's scale; `text` holds every field a phrase may be found in. */
  | { kind: 'record'; level: number; text: string }
  /** callguard's own records mention the rules' phrases; counting them would feed back into holds. */
  | { kind: 'own' }
  | { kind: 'dropped'; reason: string };

// pino's own names plus the syslog and Python spellings other shippers send.
const LEVEL_NAMES: Record<string, number> = {
  ...PINO_LEVELS,
  information: 30,
  informational: 30,
  notice: 30,
  success: 30, // loguru, between INFO and WARNING
  warning: 40,
  err: 50,
  exception: 50, // Python's logger.exception() logs at ERROR; some formatters write its name
  critical: 60,
  crit: 60,
  alert: 60,
  emerg: 60,
  emergency: 60,
  panic: 60,
};

// Python's DEBUG 10 … CRITICAL 50 sit exactly one pino step below pino's debug 20 … fatal 60;
// loguru's TRACE 5 and SUCCESS 25 land between pino's steps, on the right side of each.
const fromPython = (n: number) => n + 10;
// syslog severities 0 (emerg) … 7 (debug): lower is worse.
const SYSLOG = [60, 60, 60, 50, 40, 30, 30, 20];

/** A level name (any case) on pino's scale, or undefined when the name is unknown. */
export function levelFromName(name: string): number | undefined {
  const key = name.trim().toLowerCase();
  return Object.hasOwn(LEVEL_NAMES, key) ? LEVEL_NAMES[key] : undefined;
}

/** A level number read on `scale`, converted to pino's scale; undefined when not on that scale. */
export function levelFromNumber(n: number, scale: LevelScale): number | undefined {
  if (!Number.isFinite(n)) return undefined;
  if (scale === 'pino') return n;
  if (scale === 'python') return n >= 0 ? fromPython(n) : undefined;
  return Number.isInteger(n) && n >= 0 && n < SYSLOG.length ? SYSLOG[n] : undefined;
}

/** One level field: a name, a number, or a number written as a string. */
export function levelValue(level: unknown, scale: LevelScale = 'pino'): number | undefined {
  if (typeof level === 'number') return levelFromNumber(level, scale);
  if (typeof level !== 'string') return undefined;
  return NUMERIC.test(level) ? levelFromNumber(Number(level), scale) : levelFromName(level);
}

/**
 * Reads one record. Known names win over numbers; numbers are Python's when the record is recognisably
 * Python (loguru's shape, `levelno`, `levelname`), otherwise read on `scale`. A record whose
 * level or text cannot be found is dropped with the reason, never guessed at: counting an
 * info line as an error could pause dispatch.
 */
export function readLogRecord(record: unknown, scale: LevelScale = 'pino'): LogRecordReading {
  if (!isObject(record)) return dropped('not a JSON object');
  if (record.callguard === true) return { kind: 'own' };
  // loguru's lines always carry `text`; its `record` alone is recognised by the level object.
  if (isObject(record.record) && (typeof record.text === 'string' || isObject(record.record.level))) return readLoguru(record.record);
  const python = 'levelname' in record || 'levelno' in record;
  const level = readLevel([record.level, record.severity, record.levelname], [record.levelno], python ? 'python' : scale);
  if (typeof level === 'string') return dropped(level);
  const message = (python ? [record.message, record.msg] : [record.msg, record.message, record.log]).find(isText);
  const parts: unknown[] = [message];
  for (const err of [record.err, record.error]) parts.push(isObject(err) ? err.message : err);
  if (python) parts.push(record.exc_text, record.exc_info);
  return withText(level, parts, 'no message (msg, message, log, err.message, exc_text)');
}

// loguru `serialize=True`: {"text": "<formatted line>", "record": {"message", "level": {"name", "no"}, "exception": {"type", "value"} | null, …}}
function readLoguru(inner: Record<string, unknown>): LogRecordReading {
  if (!isObject(inner.level)) return dropped('loguru record: no level object (record.level.name, record.level.no)');
  const level = readLevel([inner.level.name], [inner.level.no], 'python');
  if (typeof level === 'string') return dropped(`loguru record: ${level}`);
  const exc = isObject(inner.exception) ? inner.exception : {};
  const exception = isText(exc.value) ? (isText(exc.type) ? `${exc.type}: ${exc.value}` : exc.value) : exc.type;
  return withText(level, [inner.message, exception], 'loguru record: no message (record.message, record.exception)');
}

/** The level on pino's scale, or why there is none. The first known name wins; a custom one
 * (loguru's `logger.level("PROVIDER", no=35)`) falls back to the number beside it. */
function readLevel(named: unknown[], numbered: unknown[], scale: LevelScale): number | string {
  const names = named.filter((v): v is string => isText(v) && !NUMERIC.test(v));
  const byName = names.map(levelFromName).find((v) => v !== undefined);
  if (byName !== undefined) return byName;
  const name = names[0];
  const raw = [...named, ...numbered].find((v) => typeof v === 'number' || (isText(v) && NUMERIC.test(v)));
  if (raw !== undefined) return levelValue(raw, scale) ?? `level ${JSON.stringify(raw)} is not on the ${scale} scale`;
  return name === undefined ? 'no level (level, severity, levelname, levelno)' : `unknown level name ${JSON.stringify(name.slice(0, 40))}`;
}

function withText(level: number, parts: unknown[], missing: string): LogRecordReading {
  // Phrases are single-line, so joining on \n keeps a phrase from matching across two fields.
  const text = parts.filter(isText).join('\n');
  return text === '' ? dropped(missing) : { kind: 'record', level, text };
}

const NUMERIC = /^\s*\d+\s*$/;
const dropped = (reason: string): LogRecordReading => ({ kind: 'dropped', reason });
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
