import { readFileSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';
import { parseRules, type LoadedRules } from '../domain/rules.js';

/** Reads and validates a rules file; every problem names the file, the rule and the field. */
export function loadRulesFile(path: string, dispatchQueues: string[]): LoadedRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read rules file (${(err as Error).message})`);
  }
  return parseRules(text, path, dispatchQueues);
}
