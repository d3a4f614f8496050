/** HTTP-only failures; like the domain errors they carry a stable code and a status. */
import { CallguardError } from '../../domain/errors.js';

export class PayloadTooLargeError extends CallguardError {
  constructor(message = 'The request body is larger than the limit', options?: ErrorOptions) {
    super('payload_too_large', 413, message, options);
  }
}

export class UnsupportedMediaTypeError extends CallguardError {
  constructor(message = 'The request body has an unsupported content type', options?: ErrorOptions) {
    super('unsupported_media_type', 415, message, options);
  }
}

export class MalformedBodyError extends CallguardError {
  constructor(message = 'The request body is not valid JSON', options?: ErrorOptions) {
    super('malformed_body', 400, message, options);
  }
}

export class TooManyRequestsError extends CallguardError {
  constructor(message = 'Too many requests; try again later', options?: ErrorOptions) {
    super('too_many_requests', 429, message, options);
  }
}

export class ReplayedError extends CallguardError {
  constructor(message = 'This signed request was already accepted', options?: ErrorOptions) {
    super('replayed', 409, message, options);
  }
}

export class IdempotencyConflictError extends CallguardError {
  constructor(message = 'A request with this Idempotency-Key is still in progress; retry later', options?: ErrorOptions) {
    super('idempotency_key_in_use', 409, message, options);
  }
}
