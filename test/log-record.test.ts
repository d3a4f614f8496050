import { describe, expect, it } from 'vitest';
import { levelValue, readLogRecord, type LevelScale, type LogRecordReading } from '../src/domain/log-record.js';

const rec = (level: number, text: string): LogRecordReading => ({ kind: 'record', level, text });
const drop = (reason: string): LogRecordReading => ({ kind: 'dropped', reason });

// What loguru 0.6's `serialize=True` writes, trimmed to the fields that matter plus a few it adds.
const loguru = (name: string, no: number, message: string, exception: unknown = null) => ({
  text: `2025-03-04 10:00:00.000 | ${name.padEnd(8)} | app:dial:12 - ${message}\n`,
  record: {
    elapsed: { repr: '0:00:01.000000', seconds: 1 },
    exception,
    extra: {},
    file: { name: 'app.py', path: '/srv/app.py' },
    function: 'dial',
    level: { icon: '❌', name, no },
    line: 12,
    message,
    module: 'app',
    name: '__main__',
    time: { repr: '2025-03-04 10:00:00+00:00', timestamp: 1741082400 },
  },
});

describe('readLogRecord', () => {
  it.each<[string, unknown, LogRecordReading]>([
    // pino and relayed records: today's shapes
    ['pino error', { level: 50, msg: 'twilio 503' }, rec(50, 'twilio 503')],
    ['vector severity name', { severity: 'error', message: 'Twilio 503' }, rec(50, 'Twilio 503')],
    ['fluent bit log field', { level: 'ERR', log: 'twilio 503' }, rec(50, 'twilio 503')],
    ['err object and string', { level: 'error', msg: 'failed', err: { message: 'a' }, error: 'b' }, rec(50, 'failed\na\nb')],
    ['callguard own record', { level: 60, callguard: true, msg: 'twilio 503' }, { kind: 'own' }],
    // loguru serialize=True
    ['loguru ERROR', loguru('ERROR', 40, 'twilio 503'), rec(50, 'twilio 503')],
    ['loguru WARNING', loguru('WARNING', 30, 'twilio slow'), rec(40, 'twilio slow')],
    ['loguru INFO', loguru('INFO', 20, 'twilio ok'), rec(30, 'twilio ok')],
    ['loguru SUCCESS', loguru('SUCCESS', 25, 'done'), rec(30, 'done')],
    ['loguru custom level: its number on the python scale', loguru('PROVIDER', 35, 'twilio 503'), rec(45, 'twilio 503')],
    ['unknown name next to a known one', { level: 'loud', severity: 'error', msg: 'x' }, rec(50, 'x')],
    ['unknown name without a number', { level: 'loud', severity: 'LOUDER', msg: 'x' }, drop('unknown level name "loud"')],
    ['loguru level with only a number', { text: 'x', record: { level: { no: 30 }, message: 'twilio 503' } }, rec(40, 'twilio 503')],
    [
      'loguru exception',
      loguru('ERROR', 40, 'dial failed', { type: 'HTTPError', value: 'twilio 503', traceback: true }),
      rec(50, 'dial failed\nHTTPError: twilio 503'),
    ],
    ['loguru without text, with a level object', { record: { level: { name: 'ERROR', no: 40 }, message: 'x' } }, rec(50, 'x')],
    [
      'loguru without a level',
      { text: 'ERROR twilio', record: { message: 'twilio 503' } },
      drop('loguru record: no level object (record.level.name, record.level.no)'),
    ],
    ['loguru without a message', loguru('ERROR', 40, ''), drop('loguru record: no message (record.message, record.exception)')],
    // Python logging
    ['python levelname', { levelname: 'WARNING', msg: 'telnyx timeout' }, rec(40, 'telnyx timeout')],
    ['python levelno alone is on the python scale', { levelno: 30, message: 'telnyx' }, rec(40, 'telnyx')],
    ['python level 30 next to levelname: the name wins', { levelname: 'ERROR', level: 30, message: 'x' }, rec(50, 'x')],
    [
      'python formatted message before msg',
      { levelname: 'ERROR', msg: 'call %s failed', message: 'call CA1 failed' },
      rec(50, 'call CA1 failed'),
    ],
    [
      'python exc_text',
      { levelname: 'ERROR', message: 'dial failed', exc_text: 'Traceback …\nHTTPError: twilio 503' },
      rec(50, 'dial failed\nTraceback …\nHTTPError: twilio 503'),
    ],
    ['python exc_info as text', { levelno: 40, message: 'x', exc_info: 'ValueError: y' }, rec(50, 'x\nValueError: y')],
    ['python CRITICAL', { levelname: 'CRITICAL', levelno: 50, message: 'x' }, rec(60, 'x')],
    // what is dropped, never guessed
    ['unknown level name', { level: 'loud', msg: 'twilio 503' }, drop('unknown level name "loud"')],
    ['no level', { msg: 'twilio 503' }, drop('no level (level, severity, levelname, levelno)')],
    ['no text', { level: 50 }, drop('no message (msg, message, log, err.message, exc_text)')],
    ['level of the wrong type', { level: true, msg: 'x' }, drop('no level (level, severity, levelname, levelno)')],
    ['negative python level', { levelno: -1, message: 'x' }, drop('level -1 is not on the python scale')],
    ['not an object', 'twilio 503', drop('not a JSON object')],
    ['null', null, drop('not a JSON object')],
    ['array', [{ level: 50, msg: 'x' }], drop('not a JSON object')],
  ])('%s', (_name, record, expected) => {
    expect(readLogRecord(record)).toEqual(expected);
  });

  it.each<[LevelScale, unknown, LogRecordReading]>([
    ['pino', { level: 30, msg: 'x' }, rec(30, 'x')],
    ['python', { level: 30, msg: 'x' }, rec(40, 'x')],
    ['python', { level: '40', msg: 'x' }, rec(50, 'x')],
    ['syslog', { severity: 3, msg: 'x' }, rec(50, 'x')],
    ['syslog', { severity: 0, msg: 'x' }, rec(60, 'x')],
    ['syslog', { severity: 4, msg: 'x' }, rec(40, 'x')],
    ['syslog', { severity: 6, msg: 'x' }, rec(30, 'x')],
    ['syslog', { severity: 7, msg: 'x' }, rec(20, 'x')],
    ['syslog', { severity: 8, msg: 'x' }, drop('level 8 is not on the syslog scale')],
    ['syslog', { severity: 3.5, msg: 'x' }, drop('level 3.5 is not on the syslog scale')],
    // a name, or a recognisably Python record, is not read on the requested scale
    ['syslog', { severity: 'warning', msg: 'x' }, rec(40, 'x')],
    ['syslog', { levelno: 40, message: 'x' }, rec(50, 'x')],
    ['pino', { levelno: 40, message: 'x' }, rec(50, 'x')],
    ['syslog', loguru('ERROR', 40, 'x'), rec(50, 'x')],
  ])('on the %s scale, %j', (scale, record, expected) => {
    expect(readLogRecord(record, scale)).toEqual(expected);
  });
});

describe('levelValue on each scale', () => {
  it.each<[unknown, LevelScale, number | undefined]>([
    [10, 'python', 20],
    [20, 'python', 30],
    [30, 'python', 40],
    [40, 'python', 50],
    [50, 'python', 60],
    [5, 'python', 15],
    [3, 'syslog', 50],
    ['2', 'syslog', 60],
    [30, 'pino', 30],
    ['Warning', 'syslog', 40],
    ['exception', 'pino', 50],
    [Number.POSITIVE_INFINITY, 'pino', undefined],
    [-3, 'syslog', undefined],
  ])('%j on %s -> %j', (input, scale, expected) => {
    expect(levelValue(input, scale)).toBe(expected);
  });
});
