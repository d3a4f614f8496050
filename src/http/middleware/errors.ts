/** How errors answer over HTTP: the one table of statuses by kind, and every code an answer can carry. */
import { ERRORS, type CallguardError, type ErrorKind } from '../../domain/errors.js';

export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  outdated: 412,
  too_large: 413,
  unsupported: 415,
  rate_limited: 429,
  misconfigured: 500,
  internal: 500,
  unavailable: 503,
};

export const statusOf = (err: Pick<CallguardError, 'kind'>): number => STATUS_OF_KIND[err.kind];

// Refused before they reach the domain; declared with the others in domain/errors.ts.
export const {
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  MalformedBodyError,
  TooManyRequestsError,
  ReplayedError,
  IdempotencyConflictError,
} = ERRORS;

/** Express' own body-parser failures (http-errors `type`) by the code they answer with. */
export const BODY_PARSER_CODES: Record<string, string> = {
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
  'entity.parse.failed': 'malformed_body',
  'request.aborted': 'request_aborted',
  'entity.verify.failed': 'malformed_body',
};

/** Every code the HTTP API answers with: the error classes', the body parser's, and the two fallbacks. */
export const ERROR_CODES: readonly string[] = [
  ...new Set([...Object.values(ERRORS).map((e) => e.code), ...Object.values(BODY_PARSER_CODES), 'bad_request', 'internal']),
];
