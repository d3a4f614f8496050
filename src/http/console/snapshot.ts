import { covers, effectOf } from '../../domain/hold.js';
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
  /** Providers whose jobs in this queue a hold covers, with what it does to them (the queue itself keeps running). */
  providers: { name: string; effect: 'held' | 'probing' | 'throttled' }[];
}

const PROVIDER_EFFECT = { pause: 'held', probe: 'probing', throttle: 'throttled' } as const;

/** The providers held in a queue; a provider under several holds shows the strictest. */
function heldProviders(holds: Hold[], queue: string): QueueRow['providers'] {
  const order = ['held', 'probing', 'throttled'] as const;
  const found = new Map<string, QueueRow['providers'][number]['effect']>();
  for (const h of holds) {
    const effect = effectOf(h);
    if (effect === 'shadow' || !h.providers?.length || !covers(h, queue)) continue;
    for (const p of h.providers) {
      const was = found.get(p);
      const now = PROVIDER_EFFECT[effect];
      if (!was || order.indexOf(now) < order.indexOf(was)) found.set(p, now);
    }
  }
  return [...found].map(([name, effect]) => ({ name, effect }));
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
    providers: heldProviders(holds, name),
  }));
  return { now, rules, holds, queues, audit, autoResumeMinutes, failover };
}
