import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ADVANCE_CURSOR,
  PUBLISH_RULES,
  SILENCE,
  CANCEL_REPORT,
  CHANGE_HOLDS,
  CLAIM_IDEMPOTENCY,
  DROP_PARKED_TARGET,
  GUARD,
  keyCountOf,
  RECORD,
  SUM_COUNTS,
} from '../src/store/scripts.js';

describe('Lua scripts by name', () => {
  it('reads the key count from the file name', () => {
    expect(keyCountOf('guard-4.lua')).toBe(4);
    expect(keyCountOf('change-holds-10.lua')).toBe(10);
    expect(keyCountOf('record-n.lua')).toBeUndefined();
    expect(() => keyCountOf('guard.lua')).toThrow(/-N\.lua/);
  });

  it('names every key of every script in src/store/scripts, as many as its file name says', () => {
    const scripts = [
      RECORD,
      SUM_COUNTS,
      CHANGE_HOLDS,
      GUARD,
      DROP_PARKED_TARGET,
      CANCEL_REPORT,
      ADVANCE_CURSOR,
      PUBLISH_RULES,
      SILENCE,
      CLAIM_IDEMPOTENCY,
    ];
    const files = readdirSync(new URL('../src/store/scripts/', import.meta.url)).filter((f) => f.endsWith('.lua'));
    expect(scripts).toHaveLength(files.length);
    for (const s of scripts) if (s.numberOfKeys !== undefined) expect(s.keys).toHaveLength(s.numberOfKeys);
    expect(scripts.filter((s) => s.numberOfKeys === undefined).map((s) => s.command)).toEqual(['cgRecord', 'cgSumCounts', 'cgGuard']);
  });
});
