import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keyCountOf, SCRIPTS } from '../src/store/scripts.js';

describe('Lua scripts by name', () => {
  it('reads the key count from the file name', () => {
    expect(keyCountOf('guard-4.lua')).toBe(4);
    expect(keyCountOf('change-holds-10.lua')).toBe(10);
    expect(keyCountOf('record-n.lua')).toBeUndefined();
    expect(() => keyCountOf('guard.lua')).toThrow(/-N\.lua/);
  });

  it('loads every file in src/store/scripts and names as many keys as its file name says', () => {
    const files = readdirSync(new URL('../src/store/scripts/', import.meta.url)).filter((f) => f.endsWith('.lua'));
    expect(SCRIPTS.map((s) => s.file).sort()).toEqual(files.sort());
    for (const s of SCRIPTS) if (s.numberOfKeys !== undefined) expect(s.keys).toHaveLength(s.numberOfKeys);
    expect(SCRIPTS.filter((s) => s.numberOfKeys === undefined).map((s) => s.file)).toEqual([
      'record-n.lua',
      'sum-counts-n.lua',
      'copy-history-n.lua',
      'guard-n.lua',
    ]);
  });
});
