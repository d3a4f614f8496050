import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, isServerFault, NotFoundError, RedisUnavailableError, ValidationError } from '../src/domain/errors.js';
import { openApiDocument } from '../src/http/api/openapi.js';
import { errorViewSchema } from '../src/http/api/views.js';
import { ERROR_CODES, IdempotencyConflictError, statusOf, STATUS_OF_KIND } from '../src/http/middleware/errors.js';

describe('errors', () => {
  it('say what went wrong; HTTP maps each kind to one status', () => {
    expect(Object.keys(STATUS_OF_KIND).sort()).toEqual([...ERROR_KINDS].sort());
    expect(statusOf(new ValidationError())).toBe(400);
    expect(statusOf(new NotFoundError())).toBe(404);
    expect(statusOf(new IdempotencyConflictError())).toBe(409);
    expect(statusOf(new RedisUnavailableError())).toBe(503);
    expect(new NotFoundError('no rule x')).toMatchObject({
      name: 'NotFoundError',
      code: 'not_found',
      kind: 'not_found',
      message: 'no rule x',
    });
    expect(new NotFoundError()).toBeInstanceOf(NotFoundError);
  });

  it('retry (server fault) only when the kind is not the caller’s fault', () => {
    expect(isServerFault(new RedisUnavailableError())).toBe(true);
    expect(isServerFault(new ValidationError())).toBe(false);
  });

  it('one envelope: the OpenAPI Error schema lists every code the server answers with', () => {
    const doc = openApiDocument() as {
      components: { schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
    };
    const listed = doc.components.schemas.Error.properties.error.properties.code.enum;
    expect(listed.sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ['redis_unavailable', 'too_many_requests', 'replayed', 'idempotency_key_in_use', 'internal'])
      expect(listed).toContain(code);
    expect(errorViewSchema.safeParse({ error: { code: 'not_a_code', message: 'x' } }).success).toBe(false);
  });
});
