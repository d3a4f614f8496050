/**
 * One declaration per route: method, path, who may call it, what it reads and what it answers.
 * mount.ts derives the Express chain (authentication, role check, body parsing, validation) from
 * it and openapi.ts the document, so the two cannot drift apart.
 */
import type { Request } from 'express';
import type { z } from 'zod';
import type { Principal, Role } from '../auth/principals.js';
import type { BodyFormat } from '../middleware/body.js';
import { validate } from '../middleware/validate.js';
import type { Logger } from '../../ops/logger.js';
import type {
  ConsoleReads,
  HoldsPort,
  IdempotencyPort,
  IngestPort,
  OpsPort,
  ReplayPort,
  RulesPort,
  SilencesPort,
  SlackPort,
} from './ports.js';

/**
 * `roles`: a bearer token of one of these roles (admin always may). `session`: the browser session
 * of one of these roles, and writes only from this site (same-origin check); `signIn`: where a
 * browser with no session is sent, instead of 401. `webhook`: as `alerts`, or an HMAC signature of
 * the body. `slack`: Slack's signature over the raw body, each signed request once. `public`:
 * anyone. `'session'` is for the Bull Board's sign-in and sign-out forms, mounted outside the
 * registry.
 */
export type Access = { roles: Role[] } | { session: Role[]; signIn?: string } | 'webhook' | 'public' | 'slack' | 'session';

/** The shared error responses in the document's components. */
export type SharedResponse = 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'PayloadTooLarge' | 'UnsupportedMediaType' | 'TooManyRequests';

export interface ResponseSpec {
  description: string;
  /** A JSON body. */
  schema?: z.ZodType;
  /** A body of another media type (text, HTML), documented as a string. */
  media?: string;
  /** Response headers, name → description. */
  headers?: Record<string, string>;
  /** The status may also come with no body at all (its description says when). */
  empty?: true;
}

export interface BodySpec<B> {
  accept: BodyFormat[];
  /** An empty body reads as `{}`. */
  optional?: boolean;
  /** Larger bodies are answered 413 before anything is parsed (default BODY_LIMIT_BYTES). */
  maxBytes?: number;
  /** The JSON body as documented. */
  schema: z.ZodType;
  /** Documented forms for other media types (e.g. NDJSON lines). */
  media?: Record<string, string>;
  /** The parsed body → what the handler gets; throws a 4xx CallguardError when it is wrong. */
  parse(body: unknown, req: Request): B;
}

/** A body that is exactly its zod schema. */
export function zodBody<S extends z.ZodType>(schema: S, opts: { optional?: boolean } = {}): BodySpec<z.output<S>> {
  return { accept: ['json'], schema, parse: (body) => validate(schema, body), ...opts };
}

/** What routes may reach: the ports, and the document they are described in. */
export interface RouteDeps {
  holds: HoldsPort;
  ingest: IngestPort;
  ops: OpsPort;
  rules: RulesPort;
  silences: SilencesPort;
  /** Signed requests accepted once (webhook routes). */
  replay: ReplayPort;
  /** Answers remembered by Idempotency-Key (ingest routes). */
  idempotency: IdempotencyPort;
  /** What the operator console draws. */
  console: ConsoleReads;
  /** Slack's button presses. */
  slack: SlackPort;
  logger: Logger;
  document(): unknown;
}

export interface RouteContext<B, Q> {
  body: B;
  query: Q;
  /** Set for every route but public ones. */
  user?: Principal;
  /** How the body was read (json or ndjson). */
  req: Request;
  deps: RouteDeps;
}

type SchemaOf<T> = T extends { schema: infer S extends z.ZodType } ? S : never;

/** The handler's answer: one of the declared statuses, with the declared body. */
export type Reply<R extends Record<number, ResponseSpec>> = {
  [S in keyof R & number]:
    | (SchemaOf<R[S]> extends never
        ? { status: S; media: string; text: string | Buffer; headers?: Record<string, string> }
        : { status: S; json: z.output<SchemaOf<R[S]>>; headers?: Record<string, string> })
    | (R[S] extends { empty: true } ? { status: S; empty: true } : never);
}[keyof R & number];

export interface RouteContract<R extends Record<number, ResponseSpec> = Record<number, ResponseSpec>> {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  operationId: string;
  tag: 'admin' | 'ingest' | 'slack' | 'ops' | 'board' | 'console';
  summary: string;
  description?: string;
  access: Access;
  /** Documented only; mount.ts reads bodies through `body`. */
  form?: z.ZodType;
  /** Path parameters (`:name` in `path`), documented and validated. */
  params?: z.ZodObject;
  /** Responses besides those the access and body imply (401/403/400/413/415). */
  responses: R;
  /** Shared error responses the route answers besides those implied. */
  shared?: SharedResponse[];
}

export interface ApiRoute<
  R extends Record<number, ResponseSpec> = Record<number, ResponseSpec>,
  B = unknown,
  Q = unknown,
> extends RouteContract<R> {
  body?: BodySpec<B>;
  query?: z.ZodObject;
  handle(ctx: RouteContext<B, Q>): Promise<Reply<R>>;
}

/**
 * Declares an API route: `route({ …contract }).handle(async (ctx) => reply)`. Two steps, so the
 * declared responses are fixed before the handler is checked against them.
 */
export function route<const R extends Record<number, ResponseSpec>, B = undefined, Q extends z.ZodObject | undefined = undefined>(
  contract: Omit<ApiRoute<R, B>, 'query' | 'handle'> & { query?: Q },
) {
  return {
    handle: (handle: (ctx: RouteContext<B, Q extends z.ZodObject ? z.output<Q> : undefined>) => Promise<Reply<R>>): ApiRoute =>
      ({ ...contract, handle }) as unknown as ApiRoute,
  };
}
