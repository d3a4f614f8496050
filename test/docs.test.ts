/**
 * README.md and docs/ stay true: the front door's size and map, whole tables, links that resolve,
 * TypeScript snippets that type-check against the packages, rules snippets that pass check-rules,
 * and the HTTP reference generated from the current OpenAPI document.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/cli.js';
import { PAGE, renderPage } from '../scripts/http-api-doc.js';
import { figure } from './support/figures.js';

const DOCS = readdirSync('docs')
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const PAGES = ['README.md', ...DOCS, 'CHANGELOG.md', 'packages/client/README.md'];
const text = (file: string) => readFileSync(file, 'utf8');

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
}
function blocks(file: string): Block[] {
  const found: Block[] = [];
  const lines = text(file).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    found.push({ file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}
const ALL = PAGES.flatMap(blocks);

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
const anchorsOf = (file: string) =>
  new Set(
    text(file)
      .replace(/^```[\s\S]*?^```/gm, '')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => anchor(l.replace(/^#+ /, ''))),
  );

describe('README.md is the front door', () => {
  const readme = text('README.md');

  it('links every page in docs/, and docs/README.md does too', () => {
    for (const page of DOCS) expect(readme).toContain(`](${page})`);
    const index = text('docs/README.md');
    for (const page of DOCS.filter((p) => p !== 'docs/README.md')) expect(index).toContain(`](${page.slice('docs/'.length)})`);
  });

  it('never suggests a bare `npx callguard` (the name belongs to another package on npm)', () => {
    for (const file of [...PAGES, '.env.example', 'src/domain/secret-strength.ts'])
      expect(text(file), file).not.toMatch(/(?<!bare `)npx (?!--no-install )callguard\b/);
  });
});

describe.each(PAGES)('%s', (file) => {
  it('has every table whole: each row follows a row, a header or its separator', () => {
    const lines = text(file)
      .replace(/^```[\s\S]*?^```/gm, '')
      .split('\n');
    lines.forEach((line, i) => {
      if (!line.startsWith('|')) return;
      const prev = lines[i - 1] ?? '';
      const next = lines[i + 1] ?? '';
      const isHeader = /^\|[-:| ]+\|$/.test(next.trim());
      expect(prev.startsWith('|') || isHeader, `${file}:${i + 1} is a table row cut off from its table: ${line.slice(0, 60)}`).toBe(true);
    });
  });

  it('links only to files and headings that exist', () => {
    const links = [
      ...text(file)
        .replace(/^```[\s\S]*?^```/gm, '')
        .matchAll(/\]\(([^)\s]+)\)/g),
    ].map((m) => m[1]!);
    for (const link of links.filter((l) => !/^[a-z]+:/.test(l))) {
      const [path, hash] = link.split('#') as [string, string | undefined];
      const target = path ? resolve(dirname(file), path) : resolve(file);
      expect(existsSync(target), `${file} links to ${link}`).toBe(true);
      if (hash && target.endsWith('.md')) expect(anchorsOf(target), `${file} links to ${link}`).toContain(hash);
    }
  });
});

describe('snippets', () => {
  const dir = join(process.cwd(), `.snippets-${process.pid}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every TypeScript snippet in README.md and docs/ type-checks against the packages', () => {
    const snippets = ALL.filter((b) => b.lang === 'ts');
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    mkdirSync(dir, { recursive: true });
    const files = snippets.map((b, i) => {
      const name = join(dir, `${i}-${b.file.replace(/\W/g, '_')}-${b.line}.ts`);
      // Each snippet is a module of its own (several declare the same names).
      writeFileSync(name, `${b.code}\nexport {};\n`);
      return name;
    });
    const config = ts.readConfigFile('tsconfig.json', (f) => ts.sys.readFile(f));
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, process.cwd());
    const program = ts.createProgram(files, {
      ...options,
      noEmit: true,
      noUnusedLocals: false, // a snippet shows a value it does not go on to use
      // The two packages' entries, as their published declarations are built from them.
      paths: { '@callguard-dev/client': ['./src/client/index.ts'], '@callguard-dev/server': ['./src/app/index.ts'] },
      baseUrl: process.cwd(),
    });
    // Diagnostics of the snippets only: the sources they import are type-checked by `npm run typecheck`.
    const problems = files
      .flatMap((f) => ts.getPreEmitDiagnostics(program, program.getSourceFile(f)))
      .filter((d) => d.file && files.includes(resolve(d.file.fileName)))
      .map((d) => {
        const at = files.indexOf(resolve(d.file!.fileName));
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${snippets[at]!.file}:${snippets[at]!.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    figure(`${snippets.length} TypeScript snippets type-checked (${[...new Set(snippets.map((s) => s.file))].join(', ')})`);
    expect(problems).toEqual([]);
    // One program over the packages' whole source: seconds alone, a minute on a loaded machine.
  }, 180_000);

  it('every rules snippet (JSON with rules) passes `callguard check-rules` without errors', async () => {
    const isRules = (code: string) => {
      try {
        const json = JSON.parse(code) as Record<string, unknown>;
        return Object.values(json).some((r) => typeof r === 'object' && r !== null && 'window_minutes' in r);
      } catch {
        return false;
      }
    };
    const rules = ALL.filter((b) => b.lang === 'json' && isRules(b.code));
    expect(rules.length).toBeGreaterThanOrEqual(1);
    const tmp = join(tmpdir(), `cg-rules-snippets-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    try {
      for (const [i, b] of rules.entries()) {
        const file = join(tmp, `${i}.json`);
        writeFileSync(file, b.code);
        let out = '';
        const code = await runCli(
          ['check-rules', file, '--queues', 'calls,callbacks,sms'],
          {},
          {
            out: (t) => (out += t),
            err: (t) => (out += t),
            stdin: process.stdin,
          },
        );
        expect(code, `${b.file}:${b.line}: ${out}`).toBe(0);
      }
      figure(`${rules.length} rules snippets pass check-rules (${[...new Set(rules.map((s) => s.file))].join(', ')})`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('docs/http-api.md', () => {
  it('its route reference is the one generated from the current OpenAPI document (`npm run docs:api`)', () => {
    const page = text(PAGE);
    expect(renderPage(page), 'run `npm run docs:api`').toBe(page);
  });
});
