import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/app/config.js';
import { parsePrincipals } from '../src/http/auth/principals.js';

// No Docker engine runs here: the file is checked for the properties we rely on instead.
const compose = readFileSync('docker-compose.yml', 'utf8');
const doc = parse(compose, { strict: true, uniqueKeys: true });

function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 1)];
      }),
  );
}

/** A published port as Compose reads it with no variables set: `${VAR:-default}` takes its default. */
const withDefaults = (s: string) => s.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yml', () => {
  const { redis, api, health } = doc.services;

  it('runs redis, the API and the health workers as separate services', () => {
    expect(Object.keys(doc.services)).toEqual(['redis', 'api', 'health']);
    expect(compose).toContain('--scale health=');
  });

  it('runs redis with noeviction and persistence on a named volume, published nowhere', () => {
    const command = redis.command.join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(Object.keys(doc.volumes)).toContain('redis-data');
    expect(redis.ports).toBeUndefined();
  });

  it.each(['api', 'health'])('%s runs the built image: no install at start, no source mounted, .env and the compose Redis', (name) => {
    const s = doc.services[name];
    expect(s.build).toBe('.');
    expect(s.image).toBe('callguard:local');
    expect(s.command[0]).toBe('node');
    expect(JSON.stringify(s.command)).not.toMatch(/npm|tsx|sh -c/);
    for (const v of s.volumes ?? []) expect(v, 'only the rules file, read-only').toBe('./rules.json:/app/rules.json:ro');
    expect(s.env_file).toBe('.env');
    expect(s.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(s.depends_on.redis.condition).toBe('service_healthy');
    expect(s.stop_grace_period).toBeDefined();
  });

  it('starts compiled entry points the build produces from src/app', () => {
    expect(api.command).toEqual(['node', 'dist/app/main.js']);
    expect(health.command).toEqual(['node', 'dist/app/health.js']);
    for (const entry of ['src/app/main.ts', 'src/app/health.ts']) expect(existsSync(entry), entry).toBe(true);
  });

  it('publishes only the API, on 127.0.0.1 by default', () => {
    expect(api.ports.map(withDefaults)).toEqual(['127.0.0.1:3000:3000']);
    for (const s of Object.values<{ ports?: string[] }>(doc.services)) {
      for (const p of s.ports ?? []) expect(withDefaults(p)).toMatch(/^127\.0\.0\.1:/);
    }
    expect(health.ports).toBeUndefined();
  });

  it('probes the API on /readyz; the health workers serve no HTTP, so the image probe is off there', () => {
    expect(api.healthcheck.test.join(' ')).toContain('/readyz');
    expect(health.healthcheck).toEqual({ disable: true });
  });
});

describe('.env.example', () => {
  const env = envFile('.env.example');

  it('is refused as is: its change-me secrets are placeholders, named without their values', () => {
    let message = '';
    try {
      loadConfig(env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('CALLGUARD_SESSION_SECRET: is a placeholder');
    expect(() => parsePrincipals(env.CALLGUARD_USERS!)).toThrow(
      /CALLGUARD_USERS entry 1: secret is a placeholder.*CALLGUARD_USERS entry 2: secret is a placeholder/,
    );
    for (const value of [env.CALLGUARD_SESSION_SECRET!, ...env.CALLGUARD_USERS!.split(',').map((e) => e.split(':')[2]!)])
      expect(message).not.toContain(value);
  });

  it('says how to generate secrets, and is a valid configuration once they are generated', () => {
    expect(readFileSync('.env.example', 'utf8')).toContain('npx --no-install callguard hash-secret --generate');
    const fresh = () => randomBytes(32).toString('base64url');
    const config = loadConfig({ ...env, CALLGUARD_SESSION_SECRET: fresh() });
    expect(config.queues).toEqual(['calls']);
    expect(parsePrincipals(`ops:admin:${fresh()},grafana:alerts:${fresh()}`).map((p) => p.role)).toEqual(['admin', 'alerts']);
    expect(env.CALLGUARD_USERS).toMatch(/^ops:admin:[^,]+,grafana:alerts:[^,]+$/);
    for (const name of Object.keys(env)) expect(readFileSync('docs/configuration.md', 'utf8')).toContain(`\`${name}\``);
  });
});
