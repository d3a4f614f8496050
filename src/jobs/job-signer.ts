import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Keys } from '../store/keys.js';
import type { CallguardRedis } from '../store/redis.js';

/** Who caused a hold-changing job: an authenticated API principal, or a verified Slack user. */
export const jobPrincipalSchema = z.strictObject({ name: z.string().min(1).max(128), role: z.string().min(1).max(32) });
export type JobPrincipal = z.infer<typeof jobPrincipalSchema>;

/** The fields a signed job carries besides its own data. */
export const signedFields = {
  principal: jobPrincipalSchema.optional(),
  signature: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
};

export type Verified = { ok: true; principal?: JobPrincipal } | { ok: false; reason: string };

/**
 * Signs the jobs that change holds (`alert`, `slack-action`) with the principal that caused them,
 * and verifies them in the worker. The events queue is open to anyone who can reach Redis or the
 * board; without this a job added there could name any principal (a Slack admin, Grafana).
 *
 * The key: HKDF of CALLGUARD_SESSION_SECRET when set (it lives only in the service's environment,
 * so nothing that can merely write to Redis can sign); otherwise a random key kept in Redis under
 * callguard's prefix, created once with SET NX so every instance shares it. That fallback keeps
 * out the board (which cannot read keys) but not a Redis client; set the session secret to close
 * that too.
 */
export class JobSigner {
  private constructor(private readonly key: Buffer) {}

  static async create(redis: CallguardRedis, keys: Keys, sessionSecret: string | undefined): Promise<JobSigner> {
    if (sessionSecret) return new JobSigner(Buffer.from(hkdfSync('sha256', sessionSecret, 'callguard', 'job-signing', 32)));
    await redis.set(keys.jobKey, randomBytes(32).toString('hex'), 'NX');
    const stored = await redis.get(keys.jobKey);
    return new JobSigner(Buffer.from(stored!, 'hex'));
  }

  /** The data with `principal` and a `signature` over both (HMAC-SHA256 of the JSON BullMQ stores). */
  sign<T extends object>(data: T, principal: JobPrincipal): T & { principal: JobPrincipal; signature: string } {
    const body = { ...data, principal: { name: principal.name, role: principal.role } };
    return { ...body, signature: this.mac(JSON.stringify(body)) };
  }

  /**
   * Verifies a job's data as BullMQ hands it back (JSON round-tripped, key order kept). Unsigned
   * data has no principal; a signature that does not match, or a principal without one, is forged.
   */
  verify(data: unknown): Verified {
    if (typeof data !== 'object' || data === null) return { ok: true };
    const { signature, ...body } = data as Record<string, unknown>;
    if (signature === undefined) {
      return 'principal' in body ? { ok: false, reason: 'names a principal but carries no signature' } : { ok: true };
    }
    if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed signature' };
    const expected = Buffer.from(this.mac(JSON.stringify(body)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { ok: false, reason: 'signature does not match the job data' };
    const principal = jobPrincipalSchema.safeParse(body.principal);
    return principal.success ? { ok: true, principal: principal.data } : { ok: false, reason: 'signed without a principal' };
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text, 'utf8').digest('hex');
  }
}
