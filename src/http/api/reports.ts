import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import { lowestLevel, rulesFor } from '../../client/log-sink.js';
import { UnknownRuleError, ValidationError } from '../../domain/errors.js';
import { readLogRecord } from '../../domain/log-record.js';
import { PhraseMatcher } from '../../domain/matcher.js';
import type { Rule } from '../../domain/types.js';
import { IdempotencyConflictError, TooManyRequestsError } from '../middleware/errors.js';
import { IDEMPOTENCY_KEYS_PER_PRINCIPAL, PENDING_MS } from '../../store/idempotency.js';
import { MAX_COUNT } from '../../jobs/contract.js';
import { validate } from '../middleware/validate.js';
import { route, type RouteDeps } from './route.js';
import { errorsBody, logsQuery } from './schemas.js';
import { errorsAcceptedViewSchema, errorViewSchema, logsAcceptedViewSchema } from './views.js';

const ACCEPTED = 'Accepted: one job on the events queue.';
/** How many drop reasons a reply lists; the count covers them all. */
const DROPS_LISTED = 10;

// Built once per rule set: matching a batch costs O(text), however many rules and phrases there are.
// The rules in force are one array whose contents a new version replaces (src/engine/live-rules.ts),
// so an entry is kept only while it was built from the very rule objects the array holds now.
const matchers = new WeakMap<readonly Rule[], { from: Rule[]; matcher: PhraseMatcher; byName: Map<string, Rule>; lowest: number }>();
function matcherFor(rules: readonly Rule[]) {
  let m = matchers.get(rules);
  if (!m || m.from.length !== rules.length || m.from.some((r, i) => r !== rules[i])) {
    m = { from: [...rules], matcher: new PhraseMatcher(rules), byName: new Map(rules.map((r) => [r.name, r])), lowest: lowestLevel(rules) };
    matchers.set(rules, m);
  }
  return m;
}

function logRecords(body: unknown, req: Request): object[] {
  const records: unknown[] = Array.isArray(body) ? body : [body];
  if (records.length === 0) throw new ValidationError('body: no log records');
  const bad = records.findIndex((r) => typeof r !== 'object' || r === null || Array.isArray(r));
  if (bad >= 0) {
    const where = req.bodyFormat === 'ndjson' ? `record ${bad + 1}` : `body[${bad}]`;
    throw new ValidationError(`${where}: expected a JSON object with a message and a level`);
  }
  return records as object[];
}

/** POST /health/errors and /health/logs (alerts, admin): counts become one `error-report` job. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const quotaFull = {
  description: `too_many_requests: the principal holds ${IDEMPOTENCY_KEYS_PER_PRINCIPAL} Idempotency-Keys of the last hour already; nothing was counted.`,
  schema: errorViewSchema,
};
const inUse = { description: 'idempotency_key_in_use: a request with this Idempotency-Key is still in progress.', schema: errorViewSchema };

/**
 * With an Idempotency-Key header, a repeat within 1 h (same principal, route and key) is answered
 * as the first was and counted once; a failed request leaves the key free for the retry.
 */
async function once<R>(ctx: { req: Request; user?: { name: string }; deps: RouteDeps }, run: () => Promise<R>): Promise<R> {
  const header = ctx.req.get('idempotency-key');
  if (header === undefined) return run();
  if (!IDEMPOTENCY_KEY.test(header)) throw new ValidationError('Idempotency-Key: 1 to 200 visible ASCII characters');
  const key = createHash('sha256')
    .update(`${ctx.user?.name ?? ''}\n${ctx.req.path}\n${header}`)
    .digest('hex');
  const claimed = Date.now(); // no later than the claim's own start, which its lapse counts from
  const seen = await ctx.deps.idempotency.begin(key, ctx.user?.name ?? '');
  if (seen.state === 'done') return seen.reply as R;
  if (seen.state === 'pending') throw new IdempotencyConflictError();
  if (seen.state === 'full') {
    throw new TooManyRequestsError(
      `Idempotency-Key: this principal already holds ${IDEMPOTENCY_KEYS_PER_PRINCIPAL} keys of the last hour; retry later, or reuse a key only for a retry of the same batch`,
    );
  }
  let reply: R;
  try {
    reply = await run();
  } catch (err) {
    await ctx.deps.idempotency.abandon(key).catch(() => undefined);
    throw err;
  }
  // The work is done (the job is in Redis): from here the key is never released, or a retry with
  // it would count again. Storing the answer is retried for as long as the claim holds the key
  // (a repeat is 409 meanwhile): once the claim lapsed, a repeat would run again.
  await remember(ctx.deps, key, reply, claimed);
  return reply;
}

async function remember(deps: RouteDeps, key: string, reply: unknown, since: number, attempt = 1): Promise<void> {
  await deps.idempotency.finish(key, reply).catch((err: unknown) => {
    const delay = Math.min(100 * 2 ** attempt, 5000);
    if (Date.now() + delay - since >= PENDING_MS) {
      deps.logger.error(
        { err },
        'could not store an Idempotency-Key answer before its claim lapsed; a repeat of the request would run again',
      );
      return;
    }
    setTimeout(() => void remember(deps, key, reply, since, attempt + 1), delay).unref();
  });
}

export const reportRoutes = [
  route({
    method: 'post',
    path: '/health/errors',
    operationId: 'postErrors',
    tag: 'ingest',
    summary: 'Count errors against rules',
    access: { roles: ['alerts'] },
    body: { accept: ['json'], schema: errorsBody, parse: (body) => validate(errorsBody, body) },
    responses: { 202: { description: ACCEPTED, schema: errorsAcceptedViewSchema }, 409: inUse, 429: quotaFull },
  }).handle((ctx) =>
    once(ctx, async () => {
      const { deps, body } = ctx;
      const reports = Array.isArray(body) ? body : [body];
      const names = deps.ingest.rules.map((r) => r.name);
      const unknown = [...new Set(reports.map((r) => r.rule).filter((r) => !names.includes(r)))];
      if (unknown.length) throw new UnknownRuleError(`unknown rule(s): ${unknown.join(', ')}; configured: ${names.join(', ')}`);
      const counts: Record<string, number> = {};
      for (const r of reports) counts[r.rule] = (counts[r.rule] ?? 0) + r.count;
      const over = Object.entries(counts).find(([, n]) => n > MAX_COUNT);
      if (over) throw new ValidationError(`body: count for ${over[0]} adds up to more than ${MAX_COUNT}`);
      return { status: 202 as const, json: { job_id: await deps.ingest.reportCounts(counts), counts } };
    }),
  ),
  route({
    method: 'post',
    path: '/health/logs',
    operationId: 'postLogs',
    tag: 'ingest',
    summary: 'Match log records against rules’ phrases',
    description:
      'Records need a message and a level to count: pino, loguru (serialize=True), Python logging, syslog and shipper shapes. Names win over numbers; bare numbers follow level_scale (Python numbers when the record is recognisably Python). Records whose shape or level cannot be read are dropped and listed, never guessed.',
    access: { roles: ['alerts'] },
    query: logsQuery,
    body: {
      accept: ['json', 'ndjson'],
      schema: z.union([z.array(z.looseObject({})).min(1), z.looseObject({})]),
      media: { 'application/x-ndjson': 'One JSON object per line.', 'application/jsonl': 'One JSON object per line.' },
      parse: logRecords,
    },
    responses: { 202: { description: ACCEPTED, schema: logsAcceptedViewSchema }, 409: inUse, 429: quotaFull },
  }).handle((ctx) =>
    once(ctx, async () => {
      const { deps, body: records, query } = ctx;
      const { matcher, byName, lowest } = matcherFor(deps.ingest.rules);
      const counts: Record<string, number> = {};
      const drops: Array<{ index: number; reason: string }> = [];
      let matched = 0;
      let dropped = 0;
      records.forEach((record, index) => {
        const reading = readLogRecord(record, query.level_scale);
        if (reading.kind === 'dropped' && dropped++ < DROPS_LISTED) drops.push({ index, reason: reading.reason });
        // Most lines of a batch are below every rule's level: nothing to match them against.
        if (reading.kind !== 'record' || reading.level < lowest) return;
        const names = rulesFor(reading, matcher, byName);
        if (names.length) matched++;
        for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
      });
      return {
        status: 202 as const,
        json: { records: records.length, matched, dropped, drops, counts, job_id: await deps.ingest.reportCounts(counts) },
      };
    }),
  ),
];
