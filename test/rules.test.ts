import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../src/domain/rules.js';
import { loadRulesFile } from '../src/store/rules-file.js';

const QUEUES = ['calls', 'sms'];
const ORIGINAL = `{
  "twilio": {"threshold_count": 10, "window_minutes": 5, "log_patterns": ["error when making call via twilio"]},
  "exotel": {"threshold_count": 5, "window_minutes": 3, "log_patterns": ["error when making call via exotel", "exotel api failure"]}
}`;

describe('rules file', () => {
  it("loads the original system's rules.json unchanged, with our defaults", () => {
    const { rules, warnings } = parseRules(ORIGINAL, 'rules.json', QUEUES);
    expect(rules).toEqual([
      {
        name: 'twilio',
        thresholdCount: 10,
        windowMinutes: 5,
        logPatterns: ['error when making call via twilio'],
        queues: 'all',
        minLevel: 40,
      },
      {
        name: 'exotel',
        thresholdCount: 5,
        windowMinutes: 3,
        logPatterns: ['error when making call via exotel', 'exotel api failure'],
        queues: 'all',
        minLevel: 40,
      },
    ]);
    expect(warnings).toEqual([]);
  });

  it('loads the shipped default rules.json', () => {
    const { rules } = loadRulesFile('rules.json', ['calls']);
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining(['twilio', 'exotel', 'plivo', 'soniox']));
  });

  it('reads our optional fields', () => {
    const { rules } = parseRules(
      '{"tw": {"threshold_count": 1, "window_minutes": 1, "log_patterns": ["twilio api down"], "queues": ["sms"], "min_level": "error"}}',
      'r.json',
      QUEUES,
    );
    expect(rules[0]).toMatchObject({ queues: ['sms'], minLevel: 50 });
  });

  it('reads shadow mode and half-open probe settings', () => {
    const { rules } = parseRules(
      '{"tw": {"threshold_count": 1, "window_minutes": 1, "log_patterns": ["twilio api down"], "mode": "shadow", "probe": {"minutes": 3, "max_per_minute": 5}}}',
      'r.json',
      QUEUES,
    );
    expect(rules[0]).toMatchObject({ mode: 'shadow', probe: { minutes: 3, maxPerMinute: 5 } });
  });

  const rule = (over: Record<string, unknown>) =>
    JSON.stringify({ twilio: { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio api down'], ...over } });

  it.each([
    { name: 'unknown field', text: rule({ threshhold: 3 }), message: 'rules.json: rule "twilio": field threshhold: unknown field' },
    { name: 'zero threshold', text: rule({ threshold_count: 0 }), message: 'rule "twilio": field threshold_count' },
    { name: 'negative window', text: rule({ window_minutes: -1 }), message: 'rule "twilio": field window_minutes' },
    {
      name: 'window over a day',
      text: rule({ window_minutes: 1441 }),
      message: 'rule "twilio": field window_minutes: at most 1440 (a day)',
    },
    { name: 'fractional threshold', text: rule({ threshold_count: 2.5 }), message: 'rule "twilio": field threshold_count' },
    { name: 'string threshold', text: rule({ threshold_count: '10' }), message: 'rule "twilio": field threshold_count' },
    {
      name: 'empty pattern',
      text: rule({ log_patterns: ['ok one', '  '] }),
      message: 'rule "twilio": field log_patterns.1: empty pattern',
    },
    {
      name: 'missing patterns',
      text: JSON.stringify({ twilio: { threshold_count: 1, window_minutes: 1 } }),
      message: 'rule "twilio": field log_patterns',
    },
    { name: 'unknown queue', text: rule({ queues: ['voice'] }), message: 'rule "twilio": field queues: voice not in CALLGUARD_QUEUES' },
    { name: 'bad min_level', text: rule({ min_level: 'loud' }), message: 'rule "twilio": field min_level' },
    {
      name: 'bad rule name',
      text: JSON.stringify({ 'two words': { threshold_count: 1, window_minutes: 1, log_patterns: ['x y'] } }),
      message: 'rule "two words": name must match',
    },
    { name: 'bad mode', text: rule({ mode: 'dry-run' }), message: 'rule "twilio": field mode' },
    { name: 'probe without limit', text: rule({ probe: { minutes: 3 } }), message: 'rule "twilio": field probe.max_per_minute' },
    {
      name: 'probe with unknown field',
      text: rule({ probe: { minutes: 3, max_per_minute: 2, burst: 1 } }),
      message: 'rule "twilio": field probe.burst: unknown field',
    },
    { name: 'array at top', text: '[]', message: 'rules.json: expected an object of rules' },
    { name: 'JSON syntax error', text: '{\n  "twilio": {\n    "threshold_count": 10,\n  }\n}', message: 'rules.json: invalid JSON: ' },
  ])('refuses $name with a message naming file, rule and field', ({ text, message }) => {
    expect(() => parseRules(text, 'rules.json', QUEUES)).toThrow(message);
  });

  it('reports JSON syntax errors with line and column', () => {
    expect(() => parseRules('{\n  "twilio": {\n    "threshold_count": 10,\n  }\n}', 'rules.json', QUEUES)).toThrow(/\(line 4, column 3\)/);
  });

  it('reports every problem at once', () => {
    const text = JSON.stringify({
      a: { threshold_count: 0, window_minutes: 1, log_patterns: [] },
      b: { window_minutes: 0, log_patterns: [] },
    });
    expect(() => parseRules(text, 'r.json', QUEUES)).toThrow(/rule "a".*\n.*rule "b".*threshold_count/s);
  });

  it('names the file when it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-rules-'));
    expect(() => loadRulesFile(join(dir, 'missing.json'), QUEUES)).toThrow(`${join(dir, 'missing.json')}: cannot read rules file`);
    writeFileSync(join(dir, 'bad.json'), '{"twilio": ');
    expect(() => loadRulesFile(join(dir, 'bad.json'), QUEUES)).toThrow(`${join(dir, 'bad.json')}: invalid JSON`);
  });

  it.each([
    { pattern: 'twilio', why: 'equals the rule name' },
    { pattern: 'error', why: 'generic word' },
    { pattern: 'Failed', why: 'generic word' },
    { pattern: 'oops', why: 'single short word' },
  ])('warns (does not refuse) about the broad pattern "$pattern"', ({ pattern, why }) => {
    const { rules, warnings } = parseRules(rule({ log_patterns: [pattern] }), 'rules.json', QUEUES);
    expect(rules).toHaveLength(1);
    expect(warnings).toEqual([expect.stringContaining(`rules.json: rule "twilio": field log_patterns: "${pattern}"`)]);
    expect(warnings[0]).toContain(why);
  });

  describe('second shape: rules and provider capacities', () => {
    const twilio = { threshold_count: 10, window_minutes: 5, log_patterns: ['twilio api down'] };

    it('reads {"rules": …, "providers": …} to the same rules as the flat shape, plus each provider’s calls per second', () => {
      const flat = parseRules(JSON.stringify({ twilio }), 'r.json', QUEUES);
      const shaped = parseRules(JSON.stringify({ rules: { twilio }, providers: { plivo: { max_per_second: 30 } } }), 'r.json', QUEUES);
      expect(shaped.rules).toEqual(flat.rules);
      expect(shaped.capacities).toEqual({ plivo: 30 });
      expect(flat.capacities).toEqual({});
    });

    it('keeps a flat file whose rule is named "rules" a flat file', () => {
      const { rules, capacities } = parseRules(JSON.stringify({ rules: twilio }), 'r.json', QUEUES);
      expect(rules.map((r) => r.name)).toEqual(['rules']);
      expect(capacities).toEqual({});
    });

    it.each([
      { name: 'a capacity of 0', providers: { plivo: { max_per_second: 0 } }, message: 'r.json: field providers.plivo.max_per_second' },
      { name: 'a fractional capacity', providers: { plivo: { max_per_second: 1.5 } }, message: 'providers.plivo.max_per_second' },
      { name: 'a capacity above 1000', providers: { plivo: { max_per_second: 1001 } }, message: 'providers.plivo.max_per_second' },
      {
        name: 'an unknown provider field',
        providers: { plivo: { max_per_second: 3, burst: 2 } },
        message: 'providers.plivo.burst: unknown field',
      },
      { name: 'a provider name with a colon', providers: { 'calls:plivo': { max_per_second: 3 } }, message: 'providers.calls:plivo' },
    ])('refuses $name, naming the field', ({ providers, message }) => {
      expect(() => parseRules(JSON.stringify({ rules: { twilio }, providers }), 'r.json', QUEUES)).toThrow(message);
    });

    it('refuses rules that are not an object, and still names a bad rule inside', () => {
      expect(() => parseRules(JSON.stringify({ rules: [], providers: {} }), 'r.json', QUEUES)).toThrow(
        'r.json: field rules: expected an object',
      );
      expect(() =>
        parseRules(JSON.stringify({ rules: { twilio: { ...twilio, threshold_count: 0 } }, providers: {} }), 'r.json', QUEUES),
      ).toThrow('r.json: rule "twilio": field threshold_count');
    });
  });
});
