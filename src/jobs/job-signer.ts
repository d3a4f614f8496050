import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ACTOR_ROLES } from '../domain/roles.js';
import type { Keys } from '../store/keys.js';
import type { CallguardRedis } from '../store/redis.js';

/** Who caused a hold-changing job: an authenticated API principal, or a verified Slack user. */
export const jobPrincipalSchema = z.strictObject({ name: z.string().min(1).max(128), role: z.enum(ACTOR_ROLES) });
export type JobPrincipal = z.infer<typeof jobPrincipalSchema>;

/**
 * How long a signed job may wait for a worker before it is refused: longer than any backlog we
 * expect, short enough that an old job re-added to the queue is refused for its age.
 */
export const SIGNED_JOB_TTL_MS = 24 * 60 * 60_000;

/** The fields a signed job carries besides its own data. */
export const signedFields = {
  principal: jobPrincipalSchema.optional(),
  /** The BullMQ job id the job was signed for: the same data under another id is refused. */
  job_id: z.string().min(1).max(256).optional(),
  /** Redis' clock (ms) after which the signed job is refused. */
  expires_at: z.number().int().positive().optional(),
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

  /**
   * The data with `principal`, the job id it will be added under, when it expires (Redis' clock)
   * and a `signature` over all of them (HMAC-SHA256 of the JSON BullMQ stores).
   */
  sign<T extends object>(
    data: T,
    principal: JobPrincipal,
    bind: { jobId: string; expiresAt: number },
  ): T & { principal: JobPrincipal; job_id: string; expires_at: number; signature: string } {
    const body = { ...data, principal: { name: principal.name, role: principal.role }, job_id: bind.jobId, expires_at: bind.expiresAt };
    return { ...body, signature: this.mac(JSON.stringify(body)) };
  }

  /**
   * Verifies a job's data as BullMQ hands it back (JSON round-tripped, key order kept). Unsigned
   * data has no principal; a signature that does not match, or a principal without one, is forged.
   * A signed job is also refused under another job id than it was signed for (a copy re-added to
   * the queue) and once `now` (Redis' clock) has passed its expiry.
   */
  verify(data: unknown, job: { id?: string | undefined }, now: number): Verified {
    if (typeof data !== 'object' || data === null) return { ok: true };
    const { signature, ...body } = data as Record<string, unknown>;
    if (signature === undefined) {
      if ('principal' in body) return { ok: false, reason: 'names a principal but carries no signature' };
      return 'job_id' in body || 'expires_at' in body ? { ok: false, reason: 'carries signed-job fields but no signature' } : { ok: true };
    }
    if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed signature' };
    const expected = Buffer.from(this.mac(JSON.stringify(body)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { ok: false, reason: 'signature does not match the job data' };
    const principal = jobPrincipalSchema.safeParse(body.principal);
    if (!principal.success) return { ok: false, reason: 'signed without a principal' };
    if (typeof body.job_id !== 'string' || body.job_id !== job.id)
      return { ok: false, reason: `signed for job ${String(body.job_id)}, not for job ${String(job.id)} (a re-added copy?)` };
    if (typeof body.expires_at !== 'number' || body.expires_at <= now) return { ok: false, reason: 'expired: signed too long ago' };
    return { ok: true, principal: principal.data };
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text, 'utf8').digest('hex');
  }
}
