import express, { type Request, type RequestHandler } from 'express';
import { ValidationError } from '../../domain/errors.js';
import { MalformedBodyError, UnsupportedMediaTypeError } from './errors.js';

/** A body larger than its route's limit (this, unless the route names another) gets 413 before anything is parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export type BodyFormat = 'json' | 'ndjson';

const MEDIA: Record<BodyFormat, string[]> = {
  json: ['application/json'],
  ndjson: ['application/x-ndjson', 'application/jsonl'],
};

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Exact bytes received, kept for webhook signatures. */
      rawBody?: Buffer;
      /** Which of the accepted formats the body was parsed as. */
      bodyFormat?: BodyFormat;
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const keepRaw: RequestHandler = (req, _res, next) => {
  req.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  req.body = undefined;
  next();
};

/** Reads the body's bytes into `req.rawBody`, 413 past `limit` bytes; parse with parseBody. */
export function readBodyUpTo(limit: number): RequestHandler[] {
  // Bytes of any content type (gzip/deflate are inflated, and the limit counts inflated bytes),
  // so a wrong type is answered 415 by us rather than silently leaving the body unparsed.
  return [express.raw({ type: () => true, limit }), keepRaw];
}

/** readBodyUpTo the common limit. */
export const readBody: RequestHandler[] = readBodyUpTo(BODY_LIMIT_BYTES);

/**
 * Parses `req.rawBody` in one of the accepted formats into `req.body` (ndjson → array).
 * `optional`: an empty body reads as `{}` (POST /health/pause with no body pauses everything).
 */
export function parseBody(opts: { accept: BodyFormat[]; optional?: boolean }): RequestHandler {
  return (req, _res, next) => {
    const bytes = req.rawBody ?? Buffer.alloc(0);
    if (bytes.length === 0) {
      if (!opts.optional) throw new ValidationError('body: a request body is required');
      req.body = {};
      return next();
    }
    const format = formatOf(req, opts.accept);
    const text = decode(bytes);
    req.bodyFormat = format;
    req.body = format === 'ndjson' ? parseLines(text) : parseJson(text);
    next();
  };
}

/** Read then parse, for routes that need nothing in between. */
export function jsonBody(opts: { accept?: BodyFormat[]; optional?: boolean } = {}): RequestHandler[] {
  return [...readBody, parseBody({ accept: opts.accept ?? ['json'], optional: opts.optional })];
}

function formatOf(req: Request, accept: BodyFormat[]): BodyFormat {
  const wanted = accept.flatMap((f) => MEDIA[f]);
  const type = req.headers['content-type'];
  if (!type) throw new UnsupportedMediaTypeError(`content-type is missing; send ${wanted.join(' or ')}`);
  const format = accept.find((f) => req.is(MEDIA[f]));
  if (!format) throw new UnsupportedMediaTypeError(`content-type ${type.split(';')[0]} is not accepted here; send ${wanted.join(' or ')}`);
  const charset = /;\s*charset=("?)([^";]+)\1/i.exec(type)?.[2]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8')
    throw new UnsupportedMediaTypeError(`charset ${charset} is not accepted; send utf-8`);
  return format;
}

function decode(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new MalformedBodyError('body: not valid UTF-8');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedBodyError(`body: malformed JSON (${(err as Error).message})`);
  }
}

function parseLines(text: string): unknown[] {
  const records: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch (err) {
      throw new MalformedBodyError(`line ${i + 1}: malformed JSON (${(err as Error).message})`);
    }
  });
  return records;
}
