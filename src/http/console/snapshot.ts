import { covers } from '../../domain/hold.js';
import { verdict } from '../../domain/outcomes.js';
import type { ConsoleReads } from '../api/ports.js';
import type { AuditEntry } from '../../store/holds.js';
import type { HeldRoute } from '../../store/guard.js';
import type { Hold, Rule } from '../../domain/types.js';
import { ruleState, type RuleState } from './rule-state.js';

/** How many audit entries the timeline shows (newest first). */
export const TIMELINE_LENGTH = 200;

export interface RuleRow {
  rule: Rule;
  /** Errors per minute over the window, oldest first. */
  perMinute: number[];
  count: number;
  /** The window's figures in words (errors, and calls for rate rules). */
  summary: string;
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
  failover: HeldRoute[];
}

export async function snapshot(reads: ConsoleReads): Promise<Snapshot> {
  const [{ now, buckets }, holds, clearSince, audit, paused, failover] = await Promise.all([
    reads.buckets(),
    reads.holds(),
    reads.clearSince(),
    reads.audit(TIMELINE_LENGTH),
    reads.paused(),
    reads.failover(),
  ]);
  const { minuteMs, autoResumeMinutes } = reads;
  const counts = Object.fromEntries(Object.entries(buckets).map(([name, b]) => [name, b.reduce((a, n) => a + n, 0)]));
  const rules = reads.rules.map((rule) => {
    const v = verdict(rule, counts);
    return {
      rule,
      perMinute: buckets[rule.name] ?? [],
      count: v.count,
      summary: v.summary,
      state: ruleState({ rule, counts, holds, clearSince: clearSince[rule.name], now, minuteMs, autoResumeMinutes }),
    };
  });
  const queues = reads.queues.map((name, i) => ({
    name,
    paused: paused[i]!,
    holds: holds.filter((h) => covers(h, name)).length,
  }));
  return { now, rules, holds, queues, audit, autoResumeMinutes, failover };
}
