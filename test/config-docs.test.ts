import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from '../src/app/config.js';
import { CONFIG_DOC, withCurrentTable } from '../scripts/config-docs.js';

const page = readFileSync(CONFIG_DOC, 'utf8');

describe('docs/configuration.md', () => {
  it('has the table the env declarations give (run `npm run docs:config` after changing one)', () => {
    expect(page).toBe(withCurrentTable(page));
  });

  it.each(ENV_VARIABLES)('lists %s', (name) => {
    expect(page).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });
});
