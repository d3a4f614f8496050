/**
 * The rules as a versioned document: the content is exactly what a rules file holds (parsed JSON,
 * read by the same parser as the file), so every instance validates a version the way it
 * validates its file at start-up. Pure: hashing, diffing and writing rules back in file form.
 */
import { createHash } from 'node:crypto';
import { LEVELS } from './rules.js';
import type { Rule } from './types.js';

/** Where a version came from: a booting instance's file, an edit, a rollback, the seed of an empty store. */
export type RulesSource = 'file' | 'api' | 'rollback' | 'seed';

export interface RulesVersion {
  version: number;
  /** sha256 of the canonical content (keys sorted): equal content, equal hash, whatever the layout. */
  hash: string;
  /** The principal, or `instance <host:pid>` for a booting instance. */
  by: string;
  source: RulesSource;
  /** Redis' clock, ms. */
  at: number;
  /** What the rules file holds (JSON). */
  content: unknown;
}

/** A version as just published, for the announcement: who, from where, why, and what changed. */
export interface PublishedRules {
  version: number;
  by: string;
  source: RulesSource;
  reason: string;
  changes: RulesChange[];
  at: number;
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function contentHash(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

export interface RulesChange {
  /** Path of the changed value, e.g. `twilio.threshold_count` (or `rules.twilio.threshold_count`). */
  path: string;
  before?: unknown;
  after?: unknown;
}

/** Leaf-level differences; arrays compare as whole values (a pattern list is one setting). */
export function diffContent(before: unknown, after: unknown, path: string[] = []): RulesChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffContent(before[k], after[k], [...path, k]));
  }
  if (canonicalJson(before) === canonicalJson(after)) return [];
  return [{ path: path.join('.'), ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) }];
}

/** Rules written back in the file's form; parseRules reads them back to the same rules. */
export function rulesToFile(rules: readonly Rule[]): Record<string, unknown> {
  const levelName = (n: number) => Object.entries(LEVELS).find(([, v]) => v === n)?.[0];
  return Object.fromEntries(
    rules.map((r) => [
      r.name,
      {
        ...(r.thresholdCount !== undefined ? { threshold_count: r.thresholdCount } : {}),
        window_minutes: r.windowMinutes,
        ...(r.logPatterns.length || (r.failureRate === undefined && r.slowCallRate === undefined) ? { log_patterns: r.logPatterns } : {}),
        ...(r.queues !== 'all' ? { queues: r.queues } : {}),
        ...(levelName(r.minLevel) !== 'warn' ? { min_level: levelName(r.minLevel) } : {}),
        ...(r.mode ? { mode: r.mode } : {}),
        ...(r.probe ? { probe: { minutes: r.probe.minutes, max_per_minute: r.probe.maxPerMinute } } : {}),
        ...(r.providers ? { providers: r.providers } : {}),
        ...(r.failureRate !== undefined ? { failure_rate: r.failureRate } : {}),
        ...(r.slowCallRate !== undefined ? { slow_call_ms: r.slowCallMs, slow_call_rate: r.slowCallRate } : {}),
        ...(r.minCalls !== undefined ? { min_calls: r.minCalls } : {}),
        ...(r.onTrip ? { on_trip: { max_per_minute: r.onTrip.maxPerMinute } } : {}),
      },
    ]),
  );
}
