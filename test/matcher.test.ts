import { describe, expect, it } from 'vitest';
import { PhraseMatcher, type PhraseEntry } from '../src/domain/matcher.js';
import type { Rule } from '../src/domain/types.js';

function naive(entries: PhraseEntry[], text: string): Set<string> {
  const lower = text.toLowerCase();
  return new Set(entries.filter((e) => lower.includes(e.phrase.toLowerCase())).map((e) => e.rule));
}

/** Deterministic PRNG so a failing random case can be reproduced. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const overlapping: PhraseEntry[] = [
  { phrase: 'twilio', rule: 'any-twilio' },
  { phrase: 'error when making call via twilio', rule: 'twilio-call' },
  { phrase: 'timeout', rule: 'timeouts' },
  { phrase: 'connection timeout', rule: 'connect' },
  { phrase: 'out', rule: 'outs' },
  { phrase: 'twilio', rule: 'twilio-dup' },
  { phrase: 'Vonage', rule: 'twilio-dup' },
  { phrase: 'Überlastung', rule: 'german' },
  { phrase: '呼叫失败', rule: 'chinese' },
  { phrase: '📞 down', rule: 'emoji' },
];

describe('PhraseMatcher', () => {
  it.each<[string, string, string[]]>([
    ['no match', 'all calls completed', []],
    ['empty text', '', []],
    ['short phrase inside long one', 'Error when making call via Twilio: 503', ['any-twilio', 'twilio-call', 'twilio-dup']],
    ['short phrase alone', 'twilio responded slowly', ['any-twilio', 'twilio-dup']],
    ['long phrase almost present', 'error when making call via twili', []],
    ['phrase that is a suffix of another', 'connection timeout after 5s', ['connect', 'timeouts', 'outs']],
    ['suffix phrase alone', 'timeout', ['timeouts', 'outs']],
    ['shortest suffix only', 'logged out', ['outs']],
    ['case-insensitive text', 'TWILIO DOWN', ['any-twilio', 'twilio-dup']],
    ['case-insensitive phrase', 'vonage rejected the call', ['twilio-dup']],
    ['unicode with case', 'ÜBERLASTUNG beim Anbieter', ['german']],
    ['cjk', '错误：呼叫失败（503）', ['chinese']],
    ['astral characters', 'status 📞 DOWN since 10:00', ['emoji']],
    ['mismatch restarts mid-phrase', 'twitwilio', ['any-twilio', 'twilio-dup']],
  ])('%s', (_name, text, expected) => {
    const matcher = new PhraseMatcher(overlapping);
    expect([...matcher.match(text)].sort()).toEqual([...expected].sort());
    expect(matcher.match(text)).toEqual(naive(overlapping, text));
  });

  it('builds from rules, one name per rule whatever the number of phrases', () => {
    const rule = (name: string, logPatterns: string[]): Rule => ({
      name,
      logPatterns,
      thresholdCount: 5,
      windowMinutes: 1,
      queues: 'all',
      minLevel: 50,
    });
    const matcher = new PhraseMatcher([rule('twilio', ['Twilio', '21611']), rule('telnyx', ['telnyx'])]);
    expect(matcher.match('twilio error 21611')).toEqual(new Set(['twilio']));
    expect(matcher.match('telnyx and twilio')).toEqual(new Set(['twilio', 'telnyx']));
  });

  it('rejects an empty phrase, naming the rule', () => {
    expect(() => new PhraseMatcher([{ phrase: '', rule: 'bad' }])).toThrow(/"bad".*empty/);
  });

  it('matches nothing when built with no phrases', () => {
    expect(new PhraseMatcher([]).match('anything')).toEqual(new Set());
  });

  it('agrees with a naive reference on 2,000 generated phrases and random texts', () => {
    const random = mulberry32(42);
    // A tiny alphabet makes phrases overlap and share prefixes/suffixes often.
    const alphabet = 'abcAB é';
    const word = (min: number, max: number): string => {
      const len = min + Math.floor(random() * (max - min + 1));
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(random() * alphabet.length)];
      return s;
    };
    const entries: PhraseEntry[] = [];
    for (let i = 0; i < 2000; i++) entries.push({ phrase: word(1, 9), rule: `r${Math.floor(random() * 300)}` });
    const matcher = new PhraseMatcher(entries);
    for (let i = 0; i < 300; i++) {
      const text = word(0, 60);
      expect(matcher.match(text), text).toEqual(naive(entries, text));
    }
  });
});
