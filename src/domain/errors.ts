/** Domain errors with stable codes; the HTTP layer maps them to `{"error": {"code", "message"}}`. */

// A registry symbol, not instanceof: two installed copies of callguard must still recognise each other's errors.
const BRAND = Symbol.for('callguard.error');

export class CallguardError extends Error {
  readonly [BRAND] = true;

  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ValidationError extends CallguardError {
  constructor(message = 'The request is invalid', options?: ErrorOptions) {
    super('invalid_request', 400, message, options);
  }
}

export class UnknownRuleError extends CallguardError {
  constructor(message = 'No rule by that name is configured', options?: ErrorOptions) {
    super('unknown_rule', 400, message, options);
  }
}

export class NotFoundError extends CallguardError {
  constructor(message = 'Not found', options?: ErrorOptions) {
    super('not_found', 404, message, options);
  }
}

export class ConfigError extends CallguardError {
  constructor(message = 'The configuration is invalid', options?: ErrorOptions) {
    super('invalid_config', 500, message, options);
  }
}

export class AuthError extends CallguardError {
  constructor(message = 'Authentication is required', options?: ErrorOptions) {
    super('unauthorized', 401, message, options);
  }
}

export class ForbiddenError extends CallguardError {
  constructor(message = 'Not allowed', options?: ErrorOptions) {
    super('forbidden', 403, message, options);
  }
}

export function isCallguardError(e: unknown): e is CallguardError {
  if (typeof e !== 'object' || e === null) return false;
  const candidate = e as Record<PropertyKey, unknown>;
  return candidate[BRAND] === true && typeof candidate.code === 'string' && typeof candidate.status === 'number';
}

/** Redis did not answer in time (away, frozen, failing over); retry later. */
export class RedisUnavailableError extends CallguardError {
  constructor(message = 'Redis is unavailable right now; retry later.', options?: ErrorOptions) {
    super('redis_unavailable', 503, message, options);
  }
}

/** The change was made against a version that is no longer current (If-Match). */
export class PreconditionFailedError extends CallguardError {
  constructor(message = 'The resource changed since it was read; nothing was changed', options?: ErrorOptions) {
    super('precondition_failed', 412, message, options);
  }
}

/** Rules edits while the rules file is the source (CALLGUARD_RULES_SOURCE=file). */
export class RulesSourceError extends CallguardError {
  constructor(
    message = 'Rules come from the rules file (CALLGUARD_RULES_SOURCE=file): edit the file and restart, or set CALLGUARD_RULES_SOURCE=redis on every instance to edit rules through the API',
    options?: ErrorOptions,
  ) {
    super('rules_from_file', 409, message, options);
  }
}
