/**
 * Errors with a stable code and a kind that says what went wrong. No transport here: the HTTP
 * layer maps each kind to a status (http/middleware/errors.ts) and answers `{"error": {"code", "message"}}`;
 * jobs decide retries from the kind (isServerFault).
 */

/** What went wrong, as the caller needs to know it. */
export const ERROR_KINDS = [
  /** The input is wrong; the same input will fail again. */
  'invalid',
  /** No credentials, or wrong ones. */
  'unauthenticated',
  /** The principal may not do this. */
  'forbidden',
  'not_found',
  /** The input collides with work done or in progress. */
  'conflict',
  /** The change was made against a version that is no longer current. */
  'outdated',
  'too_large',
  'unsupported',
  /** Too many attempts from this caller; wait. */
  'rate_limited',
  /** callguard's own configuration is wrong. */
  'misconfigured',
  /** A dependency (Redis) cannot serve right now; a retry later may work. */
  'unavailable',
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

// A registry symbol, not instanceof: two installed copies of callguard must still recognise each other's errors.
const BRAND = Symbol.for('callguard.error');

export class CallguardError extends Error {
  readonly [BRAND] = true;

  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function isCallguardError(e: unknown): e is CallguardError {
  if (typeof e !== 'object' || e === null) return false;
  const candidate = e as Record<PropertyKey, unknown>;
  return candidate[BRAND] === true && typeof candidate.code === 'string' && typeof candidate.kind === 'string';
}

/** Not the caller's fault: a job failing with one is retried, a request answered with one is logged. */
export function isServerFault(err: CallguardError): boolean {
  return err.kind === 'unavailable' || err.kind === 'misconfigured' || err.kind === 'internal';
}

/** One error class per code: `new NotFoundError()` or `new NotFoundError('No rule "x"')`. */
export type ErrorClass = (new (message?: string, options?: ErrorOptions) => CallguardError) & {
  readonly code: string;
  readonly kind: ErrorKind;
};

/** The error classes of a table { ClassName: [code, kind, default message] }; the name is what stack traces and logs show. */
export function errorClasses<const T extends Record<string, readonly [code: string, kind: ErrorKind, message: string]>>(
  table: T,
): { [N in keyof T]: ErrorClass } {
  const classes = Object.entries(table).map(([name, [code, kind, defaultMessage]]) => {
    const cls = class extends CallguardError {
      static readonly code = code;
      static readonly kind = kind;
      constructor(message = defaultMessage, options?: ErrorOptions) {
        super(code, kind, message, options);
      }
    };
    Object.defineProperty(cls, 'name', { value: name });
    return [name, cls];
  });
  return Object.fromEntries(classes) as { [N in keyof T]: ErrorClass };
}

/** Every error class, by name: [code, kind, default message]. */
export const ERRORS = errorClasses({
  ValidationError: ['invalid_request', 'invalid', 'The request is invalid'],
  UnknownRuleError: ['unknown_rule', 'invalid', 'No rule by that name is configured'],
  NotFoundError: ['not_found', 'not_found', 'Not found'],
  ConfigError: ['invalid_config', 'misconfigured', 'The configuration is invalid'],
  AuthError: ['unauthorized', 'unauthenticated', 'Authentication is required'],
  ForbiddenError: ['forbidden', 'forbidden', 'Not allowed'],
  // Redis did not answer in time (away, frozen, failing over); retry later.
  RedisUnavailableError: ['redis_unavailable', 'unavailable', 'Redis is unavailable right now; retry later.'],
  // Requests refused before they reach the domain.
  PayloadTooLargeError: ['payload_too_large', 'too_large', 'The request body is larger than the limit'],
  UnsupportedMediaTypeError: ['unsupported_media_type', 'unsupported', 'The request body has an unsupported content type'],
  MalformedBodyError: ['malformed_body', 'invalid', 'The request body is not valid JSON'],
  TooManyRequestsError: ['too_many_requests', 'rate_limited', 'Too many requests; try again later'],
  ReplayedError: ['replayed', 'conflict', 'This signed request was already accepted'],
  IdempotencyConflictError: ['idempotency_key_in_use', 'conflict', 'A request with this Idempotency-Key is still in progress; retry later'],
  // The change was made against a version that is no longer current (If-Match).
  PreconditionFailedError: ['precondition_failed', 'outdated', 'The resource changed since it was read; nothing was changed'],
  // Rules edits while the rules file is the source (CALLGUARD_RULES_SOURCE=file).
  RulesSourceError: [
    'rules_from_file',
    'conflict',
    'Rules come from the rules file (CALLGUARD_RULES_SOURCE=file): edit the file and restart, or set CALLGUARD_RULES_SOURCE=redis on every instance to edit rules through the API',
  ],
});
export const {
  ValidationError,
  UnknownRuleError,
  NotFoundError,
  ConfigError,
  AuthError,
  ForbiddenError,
  RedisUnavailableError,
  PreconditionFailedError,
  RulesSourceError,
} = ERRORS;
