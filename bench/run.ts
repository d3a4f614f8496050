/**
 * `npm run bench`: every figure is printed next to a baseline measured in the same run, as a
 * ratio, so the numbers mean something on any machine. Needs the local Redis (own prefix, cleaned).
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createLogSink } from '../src/client/log-sink.js';
import { PhraseMatcher } from '../src/domain/matcher.js';
import { Reporter } from '../src/client/reporter.js';
import type { Rule } from '../src/domain/types.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** An ioredis connection that counts the commands it sends. */
function countingRedis(): Redis & { commands: number } {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null }) as Redis & { commands: number };
  redis.commands = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((cmd: Parameters<Redis['sendCommand']>[0]) => {
    redis.commands += 1;
    return send(cmd);
  }) as Redis['sendCommand'];
  return redis;
}

async function reportErrorCommands(n: number) {
  const prefix = `{cgbench-${randomBytes(3).toString('hex')}}`;
  const measure = async (run: (q: Queue) => Promise<void>) => {
    const redis = countingRedis();
    const queue = new Queue('events', { connection: redis, prefix });
    await queue.waitUntilReady();
    const before = redis.commands;
    const t0 = performance.now();
    await run(queue);
    const ms = performance.now() - t0;
    const commands = redis.commands - before;
    await queue.obliterate({ force: true });
    await queue.close();
    redis.disconnect();
    return { commands, ms };
  };
  const baseline = await measure(async (q) => {
    for (let i = 0; i < n; i++) await q.add('error-report', { rule: 'twilio' });
  });
  const coalesced = await measure(async (q) => {
    const reporter = new Reporter(q, { flushMs: 250 });
    for (let i = 0; i < n; i++) reporter.report('twilio');
    await reporter.close();
  });
  return { baseline, coalesced };
}

function rulesWith(phrases: number): Rule[] {
  return Array.from({ length: phrases / 4 }, (_, i) => ({
    name: `rule${i}`, thresholdCount: 10, windowMinutes: 5, queues: 'all' as const, minLevel: 40,
    logPatterns: Array.from({ length: 4 }, (_, j) => `provider ${i} failure mode ${j} detected`),
  }));
}

function timeIt(fn: () => void, iterations: number): number {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return performance.now() - t0;
}

function matcherVsNaive(phrases: number) {
  const rules = rulesWith(phrases);
  const matcher = new PhraseMatcher(rules);
  const flat = rules.flatMap((r) => r.logPatterns.map((p) => [p.toLowerCase(), r.name] as const));
  const lines = Array.from({ length: 200 }, (_, i) => `request ${i} to upstream took 1234 ms; provider ${i % 300} failure mode ${i % 5} detected in region eu-west-1 (attempt 3)`);
  const naive = () => {
    for (const line of lines) {
      const lower = line.toLowerCase();
      const hit = new Set<string>();
      for (const [p, r] of flat) if (lower.includes(p)) hit.add(r);
    }
  };
  const automaton = () => {
    for (const line of lines) matcher.match(line);
  };
  naive();
  automaton();
  return { naiveMs: timeIt(naive, 20), automatonMs: timeIt(automaton, 20), lines: lines.length * 20 };
}

function sinkOverhead(records: number) {
  const rules = rulesWith(24);
  const nullStream = { write: () => true };
  const reporter = { report: () => undefined };
  const plain = pino({}, nullStream);
  const withSink = pino({}, pino.multistream([{ stream: nullStream }, { stream: createLogSink({ rules, reporter }) }]));
  const run = (logger: pino.Logger) => () => {
    // One failure among ten records, a busy dispatcher's usual mix.
    logger.error({ job: 42 }, 'error when making call via twilio: provider 3 failure mode 1 detected');
    for (let i = 0; i < 9; i++) logger.info({ job: i }, 'call placed');
  };
  run(plain)();
  run(withSink)();
  return { plainMs: timeIt(run(plain), records / 10), sinkMs: timeIt(run(withSink), records / 10), records };
}

const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : `${(a / b).toFixed(2)}×`);

const n = 10_000;
const { baseline, coalesced } = await reportErrorCommands(n);
console.log(`reportError × ${n}: ${coalesced.commands} Redis commands (${coalesced.ms.toFixed(0)} ms) vs one job per error: ${baseline.commands} commands (${baseline.ms.toFixed(0)} ms) → ${ratio(baseline.commands, coalesced.commands)} fewer commands`);
for (const phrases of [24, 2000]) {
  const m = matcherVsNaive(phrases);
  console.log(`matcher, ${phrases} phrases, ${m.lines} lines: automaton ${m.automatonMs.toFixed(1)} ms vs naive includes() loop ${m.naiveMs.toFixed(1)} ms → ${ratio(m.naiveMs, m.automatonMs)} faster`);
}
const s = sinkOverhead(100_000);
console.log(`log sink, ${s.records} records (10% errors): pino + callguard sink ${s.sinkMs.toFixed(0)} ms vs pino alone ${s.plainMs.toFixed(0)} ms → ${ratio(s.sinkMs, s.plainMs)} the cost of logging alone`);
