import { covers } from '../../domain/hold.js';
import type { ConsoleReads } from '../api/ports.js';
import type { AuditEntry } from '../../store/holds.js';
import type { Hold, Rule } from '../../domain/types.js';
import { ruleState, type RuleState } from './rule-state.js';

/** How many audit entries the timeline shows (newest first). */
export const TIMELINE_LENGTH = 200;

export interface RuleRow {
  rule: Rule;
  /** Errors per minute over the window, oldest first. */
  perMinute: number[];
  count: number;
  state: RuleState;
}

export interface QueueRow {
  name: string;
  paused: boolean;
  holds: number;
}

/** Everything the console shows, read from Redis at one moment (on Redis' clock). */
export interface Snapshot {
  now: number;
  rules: RuleRow[];
  holds: Hold[];
  queues: QueueRow[];
  audit: AuditEntry[];
  autoResumeMinutes: number;
}

export async function snapshot(reads: ConsoleReads): Promise<Snapshot> {
  const [{ now, buckets }, holds, clearSince, audit, paused] = await Promise.all([
    reads.buckets(),
    reads.holds(),
    reads.clearSince(),
    reads.audit(TIMELINE_LENGTH),
    reads.paused(),
  ]);
  const { minuteMs, autoResumeMinutes } = reads;
  const rules = reads.rules.map((rule) => {
    const perMinute = buckets[rule.name] ?? [];
    const count = perMinute.reduce((a, b) => a + b, 0);
    return {
      rule,
      perMinute,
      count,
      state: ruleState({ rule, count, holds, clearSince: clearSince[rule.name], now, minuteMs, autoResumeMinutes }),
    };
  });
  const queues = reads.queues.map((name, i) => ({
    name,
    paused: paused[i]!,
    holds: holds.filter((h) => covers(h, name)).length,
  }));
  return { now, rules, holds, queues, audit, autoResumeMinutes };
}
