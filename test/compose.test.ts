import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/app/config.js';
import { parsePrincipals } from '../src/http/auth/principals.js';

// No Docker engine runs here: the file is checked for the properties we rely on instead.
const compose = readFileSync('docker-compose.yml', 'utf8');

function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
}

describe('docker-compose.yml and .env.example', () => {
  it('runs redis with noeviction and persistence, callguard with a /readyz healthcheck, and the example worker', () => {
    const doc = parse(compose, { strict: true, uniqueKeys: true });
    expect(Object.keys(doc.services)).toEqual(['redis', 'callguard', 'dispatch-example']);
    const { redis, callguard, 'dispatch-example': example } = doc.services;
    expect(redis.command.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(redis.command.join(' ')).toContain('--appendonly yes');
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(callguard.healthcheck.test.join(' ')).toContain('/readyz');
    expect(callguard.depends_on.redis.condition).toBe('service_healthy');
    expect(callguard.env_file).toBe('.env');
    expect(callguard.ports).toEqual(['3000:3000']);
    expect(example.command.join(' ')).toContain('examples/dispatch-example.ts');
    expect(example.depends_on.callguard.condition).toBe('service_healthy');
    for (const volume of [...redis.volumes, ...callguard.volumes]) {
      const name = volume.split(':')[0];
      if (!name.startsWith('.')) expect(Object.keys(doc.volumes)).toContain(name);
    }
  });

  it('.env.example is a valid configuration', () => {
    const env = envFile('.env.example');
    const config = loadConfig(env);
    expect(config.queues).toEqual(['calls']);
    expect(parsePrincipals(config.users).map((p) => p.role)).toEqual(['admin', 'alerts']);
    for (const name of Object.keys(env)) expect(readFileSync('README.md', 'utf8')).toContain(`\`${name}\``);
  });
});
