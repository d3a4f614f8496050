/**
 * docs/configuration.md's table of environment variables, generated from their declarations in
 * src/app/config.ts. `npm run docs:config` rewrites it; test/config-docs.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENV } from '../src/app/config.js';
import type { EnvVar } from '../src/client/config.js';

export const CONFIG_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const BEGIN = '<!-- generated from src/app/config.ts by `npm run docs:config`: edit the declarations, not this table -->';
const END = '<!-- end of generated table -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const shownDefault = (v: EnvVar) => (v.default ? `\`${v.default}\`` : (v.unset ?? '*(unset)*'));

export function configTable(): string {
  const rows = Object.entries(ENV as Record<string, EnvVar>).map(
    ([name, v]) => `| \`${name}\` | ${cell(shownDefault(v))} | ${cell(v.doc)} |`,
  );
  return [BEGIN, '', '| Variable | Default | Meaning |', '|---|---|---|', ...rows, '', END].join('\n');
}

/** The page with its table replaced by the one the declarations give. */
export function withCurrentTable(page: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${CONFIG_DOC}: the generated-table markers are missing`);
  return page.slice(0, start) + configTable() + page.slice(end + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIG_DOC, withCurrentTable(readFileSync(CONFIG_DOC, 'utf8')));
  console.log(`wrote ${CONFIG_DOC}`);
}
