import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../domain/errors.js';
import { BUILT_IN_PRINCIPALS, ROLES, type Role } from '../../domain/roles.js';
import { MIN_SECRET_LENGTH, weakSecretReason } from '../../domain/secret-strength.js';

export { MIN_SECRET_LENGTH };

export { ROLES, type Role };

/** Who is acting. The secret never leaves PrincipalDirectory. */
export interface Principal {
  name: string;
  role: Role;
}

export interface PrincipalEntry extends Principal {
  /** The plain secret, or `sha256:<64 hex>` of it (what `callguard hash-secret` prints). */
  secret: string;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const BUILT_IN: readonly string[] = Object.values(BUILT_IN_PRINCIPALS);
export const HASH_PREFIX = 'sha256:';
const HASHED = /^sha256:[0-9a-fA-F]{64}$/;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** `sha256:<hex>` of a secret: the form CALLGUARD_USERS accepts instead of the plain secret. */
export function hashSecret(secret: string): string {
  return `${HASH_PREFIX}${digest(secret).toString('hex')}`;
}

/**
 * The 32-byte digest a presented secret is compared with. A hashed entry is taken as is, so the
 * plain secret never has to be in the environment; its length can no longer be checked here,
 * which is why `hash-secret` refuses short secrets.
 */
function secretDigest(secret: string): Buffer {
  return HASHED.test(secret) ? Buffer.from(secret.slice(HASH_PREFIX.length), 'hex') : digest(secret);
}

/**
 * Parses CALLGUARD_USERS (`name:role:secret`, comma separated; the secret may contain ':').
 * Problems name the variable and the 1-based entry, never the entry's text: a misplaced field
 * could be the secret.
 */
export function parsePrincipals(value: string): PrincipalEntry[] {
  const problems: string[] = [];
  const entries: PrincipalEntry[] = [];
  const digests: Buffer[] = [];
  const raw = value.split(',').map((e) => e.trim());
  if (raw.length === 1 && raw[0] === '') return [];
  raw.forEach((entry, i) => {
    const where = `CALLGUARD_USERS entry ${i + 1}`;
    const first = entry.indexOf(':');
    const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
    if (second < 0) return problems.push(`${where}: expected name:role:secret`);
    const name = entry.slice(0, first);
    const role = entry.slice(first + 1, second);
    const secret = entry.slice(second + 1);
    if (!NAME.test(name)) return problems.push(`${where}: name must match ${NAME}`);
    if (BUILT_IN.includes(name.toLowerCase())) {
      return problems.push(`${where}: name is one callguard acts under itself (${BUILT_IN.join(', ')}); choose another`);
    }
    if (!(ROLES as readonly string[]).includes(role)) return problems.push(`${where}: role must be one of ${ROLES.join(', ')}`);
    // A plain secret that merely starts with "sha256:" would be ambiguous, so the prefix always means a hash.
    if (secret.startsWith(HASH_PREFIX) && !HASHED.test(secret)) {
      return problems.push(
        `${where}: a hashed secret must be ${HASH_PREFIX} followed by 64 hex digits (the output of callguard hash-secret)`,
      );
    }
    const weak = HASHED.test(secret) ? undefined : weakSecretReason(secret);
    if (weak) return problems.push(`${where}: secret ${weak}`);
    const sameName = entries.findIndex((e) => e.name === name);
    if (sameName >= 0) return problems.push(`${where}: name repeats entry ${sameName + 1}`);
    // Compared as digests: a plain secret and its hash in two entries are the same bearer token.
    const hash = secretDigest(secret);
    const sameSecret = digests.findIndex((d) => d.equals(hash));
    if (sameSecret >= 0) return problems.push(`${where}: secret repeats entry ${sameSecret + 1}'s; a bearer token must name one principal`);
    entries.push({ name, role: role as Role, secret });
    digests.push(hash);
    return undefined;
  });
  if (problems.length) throw new ConfigError(problems.join('; '));
  return entries;
}

/**
 * The configured principals, or one generated admin when none are configured: never a
 * well-known default. `generated` is returned so the caller can print it once.
 */
export function resolvePrincipals(value: string): { entries: PrincipalEntry[]; generated?: PrincipalEntry } {
  const entries = parsePrincipals(value);
  if (entries.length) return { entries };
  const generated: PrincipalEntry = { name: 'admin', role: 'admin', secret: randomBytes(24).toString('base64url') };
  return { entries: [generated], generated };
}

/** Looks principals up by secret or by name + secret, in constant time with respect to the secrets. */
export class PrincipalDirectory {
  private readonly entries: Array<Principal & { hash: Buffer }>;

  constructor(entries: PrincipalEntry[]) {
    this.entries = entries.map((e) => ({ name: e.name, role: e.role, hash: secretDigest(e.secret) }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** Bearer tokens: both sides are sha256 digests (equal lengths), and every entry is compared. */
  byToken(token: string): Principal | undefined {
    const given = digest(token);
    let found: Principal | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(e.hash, given) && !found) found = { name: e.name, role: e.role };
    }
    return found;
  }

  byCredentials(name: string, secret: string): Principal | undefined {
    const p = this.byToken(secret);
    return p && p.name === name ? p : undefined;
  }

  byName(name: string): Principal | undefined {
    const e = this.entries.find((x) => x.name === name);
    return e && { name: e.name, role: e.role };
  }

  /**
   * A digest of the principal's name, role and secret, stored in its sessions: rotating the
   * secret or changing the role (or reusing the name for someone else) ends every session, since
   * the stored fingerprint no longer matches. It reveals nothing usable about the secret.
   */
  fingerprint(name: string): string | undefined {
    const e = this.entries.find((x) => x.name === name);
    if (!e) return undefined;
    return createHash('sha256')
      .update('callguard-session\0')
      .update(e.name)
      .update('\0')
      .update(e.role)
      .update('\0')
      .update(e.hash)
      .digest('base64url')
      .slice(0, 22);
  }

  /** The principal a session names, if its fingerprint still matches. */
  bySession(name: string, fingerprint: string): Principal | undefined {
    const current = this.fingerprint(name);
    if (current === undefined || current.length !== fingerprint.length) return undefined;
    return timingSafeEqual(Buffer.from(current), Buffer.from(fingerprint)) ? this.byName(name) : undefined;
  }
}
