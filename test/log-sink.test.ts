import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { createLogSink, levelValue, matchRecord } from '../src/client/log-sink.js';
import { PhraseMatcher } from '../src/domain/matcher.js';
import type { ErrorSink, Rule } from '../src/domain/types.js';

function rule(name: string, logPatterns: string[], minLevel = 50): Rule {
  return { name, logPatterns, minLevel, thresholdCount: 5, windowMinutes: 1, queues: 'all' };
}

const rules: Rule[] = [rule('twilio', ['error when making call via twilio', 'twilio 503']), rule('telnyx', ['telnyx'], 40)];

class RecordingSink implements ErrorSink {
  readonly reports: Array<[string, number | undefined]> = [];
  report(rule: string, count?: number): void {
    this.reports.push([rule, count]);
  }
}

function setup(onError?: (err: unknown) => void) {
  const reporter = new RecordingSink();
  const sink = createLogSink({ rules, reporter, onError });
  const logger = pino({ level: 'trace' }, sink);
  return { reporter, sink, logger };
}

describe('createLogSink with pino(sink)', () => {
  it('when an ERROR mentions a phrase, then that rule counts 1', () => {
    const { reporter, sink, logger } = setup();
    logger.error('Error when making call via Twilio');
    expect(reporter.reports).toEqual([['twilio', 1]]);
    expect(sink.stats()).toEqual({ lines: 1, matched: 1, dropped: 0, errors: 0 });
  });

  it.each(['trace', 'debug', 'info'] as const)('when an %s record mentions a phrase, then nothing counts', (level) => {
    const { reporter, logger } = setup();
    logger[level]('error when making call via twilio, telnyx too');
    expect(reporter.reports).toEqual([]);
  });

  it('when a rule has min level error, then a matching WARN is ignored while a lower rule counts', () => {
    const { reporter, logger } = setup();
    logger.warn('twilio 503 and telnyx slow');
    expect(reporter.reports).toEqual([['telnyx', 1]]);
  });

  it('when the phrase is in the serialized error, then it counts', () => {
    const { reporter, logger } = setup();
    logger.error({ err: new Error('Twilio 503 Service Unavailable') }, 'dispatch failed');
    expect(reporter.reports).toEqual([['twilio', 1]]);
  });

  it("when callguard's own logger writes an ERROR with a phrase, then nothing counts", () => {
    const { reporter, sink } = setup();
    const own = pino({ base: { callguard: true } }, sink);
    own.error('rule twilio tripped: error when making call via twilio x5');
    own.fatal({ err: new Error('twilio 503') }, 'telnyx');
    expect(reporter.reports).toEqual([]);
    expect(sink.stats()).toMatchObject({ lines: 2, matched: 0 });
  });

  it('when the reporter throws, then logger.error() does not, and onError hears of it', () => {
    const seen: unknown[] = [];
    const sink = createLogSink({
      rules,
      reporter: {
        report() {
          throw new Error('reporter down');
        },
      },
      onError: (err) => seen.push(err),
    });
    const logger = pino(sink);
    expect(() => logger.error('twilio 503 via telnyx')).not.toThrow();
    expect(seen.map((e) => (e as Error).message)).toEqual(['reporter down', 'reporter down']);
    expect(sink.stats()).toEqual({ lines: 1, matched: 1, dropped: 0, errors: 2 });
  });

  it('when onError itself throws, then the error is still swallowed and counted', () => {
    const sink = createLogSink({
      rules,
      reporter: {
        report() {
          throw new Error('reporter down');
        },
      },
      onError: () => {
        throw new Error('onError down');
      },
    });
    expect(() => pino(sink).error('twilio 503')).not.toThrow();
    expect(sink.stats().errors).toBe(1);
  });
});

describe('createLogSink with pino.multistream', () => {
  it('counts through a multistream next to another destination', () => {
    const reporter = new RecordingSink();
    const sink = createLogSink({ rules, reporter });
    const other: string[] = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        other.push(String(chunk));
        cb();
      },
    });
    const logger = pino(
      { level: 'trace' },
      pino.multistream([
        { stream: out, level: 'info' },
        { stream: sink, level: 'trace' },
      ]),
    );
    logger.debug('twilio 503');
    logger.error('twilio 503');
    logger.fatal('Telnyx unreachable');
    expect(reporter.reports).toEqual([
      ['twilio', 1],
      ['telnyx', 1],
    ]);
    expect(other).toHaveLength(2);
    // The debug line is below every rule: the fast path turns it away before it counts as a line.
    expect(sink.stats()).toEqual({ lines: 2, matched: 2, dropped: 0, errors: 0 });
  });
});

describe('createLogSink with raw writes', () => {
  it('reads the level pino hands over for its own write only: raw writes around pino lines are read from their text', () => {
    const { reporter, sink, logger } = setup();
    logger.info('twilio 503'); // below every rule: turned away on the level pino handed over
    sink.write(`${JSON.stringify({ level: 50, msg: 'twilio 503 raw' })}\n`);
    logger.error('telnyx down');
    // A raw line whose text says info is not counted, even right after pino's error.
    sink.write(`${JSON.stringify({ level: 30, msg: 'twilio 503 raw' })}\n`);
    logger.error('twilio 503');
    expect(reporter.reports).toEqual([
      ['twilio', 1],
      ['telnyx', 1],
      ['twilio', 1],
    ]);
    expect(sink.stats()).toEqual({ lines: 3, matched: 3, dropped: 0, errors: 0 });
  });

  it('drops malformed lines without throwing and still handles the good ones in a chunk', () => {
    const { reporter, sink } = setup();
    const chunk = [
      'not json at all',
      '{"level":50,"msg":"twilio 503"',
      '[1,2,3]',
      'null',
      '',
      JSON.stringify({ level: 50, msg: 'twilio 503' }),
      JSON.stringify({ level: 'ERROR', message: 'telnyx' }),
    ].join('\n');
    expect(sink.write(chunk)).toBe(true);
    expect(sink.write(Buffer.from('{"level":"fatal","msg":"TELNYX"}\n'))).toBe(true);
    expect(reporter.reports).toEqual([
      ['twilio', 1],
      ['telnyx', 1],
      ['telnyx', 1],
    ]);
    expect(sink.stats()).toEqual({ lines: 7, matched: 3, dropped: 4, errors: 0 });
  });

  it('counts loguru and Python lines, and drops records it cannot read', () => {
    const { reporter, sink } = setup();
    const lines = [
      { text: 'x', record: { level: { name: 'ERROR', no: 40 }, message: 'Twilio 503', exception: null } },
      { levelname: 'WARNING', levelno: 30, message: 'telnyx slow' },
      { levelname: 'INFO', levelno: 20, message: 'telnyx fine' },
      { level: 'loud', msg: 'twilio 503' },
      { msg: 'twilio 503' },
    ];
    sink.write(lines.map((l) => JSON.stringify(l)).join('\n'));
    expect(reporter.reports).toEqual([
      ['twilio', 1],
      ['telnyx', 1],
    ]);
    expect(sink.stats()).toEqual({ lines: 5, matched: 2, dropped: 2, errors: 0 });
  });

  it('reads bare numbers on the levelScale it is given', () => {
    const reporter = new RecordingSink();
    const sink = createLogSink({ rules, reporter, levelScale: 'syslog' });
    sink.write('{"severity":3,"msg":"twilio 503"}\n{"severity":6,"msg":"twilio 503"}\n{"level":40,"msg":"telnyx"}\n');
    expect(reporter.reports).toEqual([['twilio', 1]]);
    expect(sink.stats()).toEqual({ lines: 3, matched: 1, dropped: 1, errors: 0 });
  });

  it('never throws on values that are not strings', () => {
    const { sink } = setup();
    expect(() => sink.write(undefined as unknown as string)).not.toThrow();
    expect(() => sink.write({} as unknown as string)).not.toThrow();
  });
});

describe('matchRecord', () => {
  const matcher = new PhraseMatcher(rules);
  const byName = new Map(rules.map((r) => [r.name, r]));

  it.each<[string, unknown, string[]]>([
    ['pino error', { level: 50, msg: 'twilio 503' }, ['twilio']],
    ['vector message + severity', { severity: 'error', message: 'Twilio 503' }, ['twilio']],
    ['fluent bit log + string level', { level: 'ERR', log: 'twilio 503' }, ['twilio']],
    ['python levelname', { levelname: 'WARNING', msg: 'telnyx timeout' }, ['telnyx']],
    ['python warning below min_level', { levelname: 'WARNING', msg: 'twilio 503' }, []],
    ['critical', { severity: 'CRITICAL', message: 'twilio 503 telnyx' }, ['twilio', 'telnyx']],
    ['error object field', { level: 'error', msg: 'call failed', error: { message: 'Twilio 503' } }, ['twilio']],
    ['error string field', { level: 'error', error: 'twilio 503' }, ['twilio']],
    ['unknown level', { level: 'loud', msg: 'twilio 503' }, []],
    ['no level', { msg: 'twilio 503' }, []],
    ['callguard own record', { level: 60, callguard: true, msg: 'twilio 503' }, []],
    ['no text', { level: 50 }, []],
    ['not an object', 'twilio 503', []],
    ['null', null, []],
    ['phrase split across fields', { level: 50, msg: 'twilio', err: { message: '503' } }, []],
    ['loguru ERROR', { text: 'x', record: { level: { name: 'ERROR', no: 40 }, message: 'twilio 503' } }, ['twilio']],
    [
      'loguru WARNING below min_level',
      { text: 'x', record: { level: { name: 'WARNING', no: 30 }, message: 'twilio 503 telnyx' } },
      ['telnyx'],
    ],
    ['loguru INFO', { text: 'x', record: { level: { name: 'INFO', no: 20 }, message: 'twilio 503 telnyx' } }, []],
    ['python levelno 30 is WARNING, not pino info', { levelno: 30, message: 'telnyx timeout' }, ['telnyx']],
    ['python levelno 40 is ERROR', { levelno: 40, message: 'twilio 503' }, ['twilio']],
    ['python exc_text', { levelname: 'ERROR', message: 'dial failed', exc_text: 'HTTPError: Twilio 503' }, ['twilio']],
  ])('%s', (_name, record, expected) => {
    expect(matchRecord(record, matcher, byName)).toEqual(expected);
  });
});

describe('levelValue', () => {
  it.each<[unknown, number | undefined]>([
    [10, 10],
    [55, 55],
    ['trace', 10],
    ['DEBUG', 20],
    ['Info', 30],
    ['notice', 30],
    ['warn', 40],
    ['Warning', 40],
    ['error', 50],
    ['err', 50],
    ['fatal', 60],
    ['critical', 60],
    ['CRIT', 60],
    ['50', 50],
    [' error ', 50],
    ['loud', undefined],
    ['constructor', undefined],
    [Number.NaN, undefined],
    [null, undefined],
    [undefined, undefined],
    [{}, undefined],
  ])('%j -> %j', (input, expected) => {
    expect(levelValue(input)).toBe(expected);
  });
});
