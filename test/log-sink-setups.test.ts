import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogSink } from '../src/client/log-sink.js';
import { testRules } from './support/harness.js';

const rules = testRules({ twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['error when making call via twilio'] } }, [
  'calls',
]);

function collector() {
  const lines: string[] = [];
  return { lines, write: (chunk: string) => lines.push(chunk) };
}

describe('log sink set-ups the README shows', () => {
  it('when the sink stands in front of the destination, then every line reaches the destination and matching warnings count', () => {
    const reported: string[] = [];
    const dest = collector();
    const sink = createLogSink({ rules, reporter: { report: (r) => reported.push(r) }, destination: dest });
    const logger = pino({ level: 'debug' }, sink);
    logger.debug('error when making call via twilio (debug, below every rule)');
    logger.info('error when making call via twilio (info)');
    logger.warn('error when making call via twilio: 503');
    logger.error({ err: new Error('error when making call via twilio: timeout') }, 'dispatch failed');
    expect(dest.lines).toHaveLength(4);
    expect(JSON.parse(dest.lines[2]!).msg).toBe('error when making call via twilio: 503');
    expect(reported).toEqual(['twilio', 'twilio']);
    // Below-level lines never reach the careful path, so they are not even counted as lines.
    expect(sink.stats()).toMatchObject({ lines: 2, matched: 2, dropped: 0, errors: 0 });
  });

  it('when the sink is passed to pino.multistream as it is, then multistream keeps lines below its level from it', () => {
    const reported: string[] = [];
    const sink = createLogSink({ rules, reporter: { report: (r) => reported.push(r) } });
    expect(sink.level).toBe(40);
    const other = collector();
    const logger = pino({ level: 'info' }, pino.multistream([{ stream: other }, sink]));
    logger.info('error when making call via twilio (info)');
    logger.warn('error when making call via twilio: 503');
    expect(other.lines).toHaveLength(2);
    expect(reported).toEqual(['twilio']);
    expect(sink.stats().lines).toBe(1);
  });

  it('when a chunk holds several lines or a level that is not a number, then the careful path reads it', () => {
    const reported: string[] = [];
    const sink = createLogSink({ rules, reporter: { report: (r) => reported.push(r) } });
    sink.write('{"level":30,"msg":"ok"}\n{"level":50,"msg":"error when making call via twilio"}\n');
    sink.write('{"level":"error","msg":"error when making call via twilio"}\n');
    expect(reported).toEqual(['twilio', 'twilio']);
  });
});
