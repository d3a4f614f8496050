import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

describe('README.md stays true', () => {
  it('links the configuration table (docs/configuration.md, checked by config-docs.test.ts)', () => {
    expect(readme).toContain('](docs/configuration.md)');
  });

  it('names the run and test commands that exist', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    expect(pkg.scripts.start).toBeDefined();
    expect(pkg.scripts.test).toBeDefined();
    expect(pkg.scripts.demo).toBeDefined();
    expect(pkg.scripts.bench).toBeDefined();
  });

  it(".ci/run runs the README's test command and the fault suite", () => {
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test\nnpm run test:faults$/m);
    expect(pkg.scripts['test:faults']).toBeDefined();
  });
});
