import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/app/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      rulesPath: './rules.json',
      queues: ['calls'],
      queuePrefix: 'bull',
      prefix: '{callguard}',
      minuteMs: 60_000,
      autoResumeMinutes: 5,
      autoPause: 'on',
      port: 3000,
      remindMinutes: 30,
      jobLockMs: 5000,
    });
  });

  it('parses lists, the minute, the job lock and the ingest batch interval', () => {
    expect(
      loadConfig({
        CALLGUARD_QUEUES: ' calls, sms ,calls',
        CALLGUARD_MINUTE_SECONDS: '0.5',
        CALLGUARD_JOB_LOCK_SECONDS: '2.5',
        CALLGUARD_INGEST_BATCH_MS: '25',
      }),
    ).toMatchObject({
      queues: ['calls', 'sms'],
      minuteMs: 500,
      jobLockMs: 2500,
      ingestBatchMs: 25,
    });
    expect(loadConfig({}).ingestBatchMs).toBe(10);
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
    ['CALLGUARD_JOB_LOCK_SECONDS', '0.5'],
    ['CALLGUARD_JOB_LOCK_SECONDS', '301'],
    ['CALLGUARD_INGEST_BATCH_MS', '-1'],
    ['CALLGUARD_INGEST_BATCH_MS', '1001'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:7000,:x'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`invalid environment: .*${name}: `));
  });

  it.each([
    ['CALLGUARD_SESSION_SECRET', 'change-me-to-another-long-random-value', 'is a placeholder'],
    ['CALLGUARD_WEBHOOK_SECRET', 'change-me-webhook-secret-that-is-long', 'is a placeholder'],
    ['CALLGUARD_SESSION_SECRET', 'short-but-real-looking-9f8e7d', 'must be at least 32 characters'],
    ['CALLGUARD_WEBHOOK_SECRET', 'short-but-real-looking-1a2b3c', 'must be at least 32 characters'],
  ])('refuses a weak %s naming the variable, never printing the value', (name, value, reason) => {
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}: ${reason}`);
    let message = '';
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain(value);
    expect(message).toContain('hash-secret --generate');
  });

  it('accepts secrets of 32 characters or more', () => {
    const strong = 'x7Gq2LbV9mN4pR8sT1wY5zA3cE6hJ0kU';
    expect(loadConfig({ CALLGUARD_SESSION_SECRET: strong, CALLGUARD_WEBHOOK_SECRET: `${strong}-w` })).toMatchObject({
      sessionSecret: strong,
      webhookSecret: `${strong}-w`,
    });
  });

  it('never echoes a bad value, so a password in a malformed REDIS_URL stays out of the error', () => {
    let message = '';
    try {
      loadConfig({ REDIS_URL: 'redis://:hunter2-password@exa mple:6379', PORT: 'hunter3' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/REDIS_URL: .*PORT: /);
    expect(message).not.toContain('hunter');
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ CALLGUARD_AUTO_PAUSE: 'x', CALLGUARD_MINUTE_SECONDS: '-2' })).toThrow(
      /CALLGUARD_MINUTE_SECONDS.*CALLGUARD_AUTO_PAUSE|CALLGUARD_AUTO_PAUSE.*CALLGUARD_MINUTE_SECONDS/,
    );
  });

  describe('Redis Cluster', () => {
    const cluster = { REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001', CALLGUARD_QUEUE_PREFIX: '{bull}' };

    it('reads the seed nodes, and keeps REDIS_URL only for single-node mode', () => {
      expect(loadConfig({}).clusterNodes).toEqual([]);
      expect(loadConfig(cluster).clusterNodes).toEqual([
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
      ]);
    });

    it.each([
      ['CALLGUARD_QUEUE_PREFIX', { CALLGUARD_QUEUE_PREFIX: 'bull' }, 'CALLGUARD_QUEUE_PREFIX={bull}'],
      ['CALLGUARD_QUEUE_PREFIX', { CALLGUARD_QUEUE_PREFIX: 'my{}app' }, 'CALLGUARD_QUEUE_PREFIX={myapp}'],
      ['CALLGUARD_PREFIX', { CALLGUARD_PREFIX: 'callguard' }, 'CALLGUARD_PREFIX={callguard}'],
    ])('when %s has no hash tag, then start-up refuses in one line saying why', (_name, env, hint) => {
      let message = '';
      try {
        loadConfig({ ...cluster, ...env });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain('has no hash tag, which Redis Cluster needs');
      expect(message).toContain(hint);
      expect(message).not.toContain('\n');
    });

    it('accepts tagged prefixes, and untagged ones without a cluster', () => {
      expect(loadConfig({ ...cluster, CALLGUARD_PREFIX: 'app:{cg}' }).prefix).toBe('app:{cg}');
      expect(loadConfig({ CALLGUARD_QUEUE_PREFIX: 'bull' }).queuePrefix).toBe('bull');
    });
  });
});
