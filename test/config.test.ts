import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/app/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379', rulesPath: './rules.json', queues: ['calls'], queuePrefix: 'bull',
      prefix: '{callguard}', minuteMs: 60_000, autoResumeMinutes: 5, autoPause: 'on', port: 3000, remindMinutes: 30,
    });
  });

  it('parses lists and the minute', () => {
    expect(loadConfig({ CALLGUARD_QUEUES: ' calls, sms ,calls', CALLGUARD_MINUTE_SECONDS: '0.5' })).toMatchObject({ queues: ['calls', 'sms'], minuteMs: 500 });
  });

  it.each([
    ['CALLGUARD_MINUTE_SECONDS', '0'],
    ['CALLGUARD_MINUTE_SECONDS', 'soon'],
    ['CALLGUARD_AUTO_RESUME_MINUTES', '-1'],
    ['CALLGUARD_AUTO_PAUSE', 'maybe'],
    ['CALLGUARD_QUEUES', 'calls,bad:name'],
    ['CALLGUARD_QUEUES', ' , '],
    ['REDIS_URL', 'not a url'],
    ['PORT', '70000'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`invalid environment: .*${name}=`));
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ CALLGUARD_AUTO_PAUSE: 'x', CALLGUARD_MINUTE_SECONDS: '-2' })).toThrow(/CALLGUARD_MINUTE_SECONDS.*CALLGUARD_AUTO_PAUSE|CALLGUARD_AUTO_PAUSE.*CALLGUARD_MINUTE_SECONDS/);
  });
});
