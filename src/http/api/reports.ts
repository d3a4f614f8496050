import { Router, type RequestHandler } from 'express';
import { UnknownRuleError, ValidationError } from '../../domain/errors.js';
import { enqueueReport } from '../../jobs/enqueue-report.js';
import { matchRecord } from '../../client/log-sink.js';
import { PhraseMatcher } from '../../domain/matcher.js';
import type { Callguard } from '../../app/callguard.js';
import { jsonBody } from '../middleware/body.js';
import { requireRole } from '../middleware/require-role.js';
import { errorsBody } from './schemas.js';
import { validate } from '../middleware/validate.js';

const MAX_COUNT = 1_000_000;

/** POST /health/errors and /health/logs (alerts, admin): counts become one `error-report` job. */
export function reportRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  const rulesByName = new Map(cg.rules.map((r) => [r.name, r]));
  // Built once: matching a batch costs O(text), however many rules and phrases there are.
  const matcher = new PhraseMatcher(cg.rules);
  const reporter = [authenticate, requireRole('alerts')];

  // Confirmed within the HTTP deadline or never counted (see enqueueReport).
  const enqueue = async (counts: Record<string, number>) => (Object.keys(counts).length ? enqueueReport(cg, counts) : null);

  router.post('/health/errors', ...reporter, ...jsonBody(), async (req, res) => {
    const parsed = validate(errorsBody, req.body);
    const reports = Array.isArray(parsed) ? parsed : [parsed];
    const unknown = [...new Set(reports.map((r) => r.rule).filter((r) => !rulesByName.has(r)))];
    if (unknown.length) throw new UnknownRuleError(`unknown rule(s): ${unknown.join(', ')}; configured: ${[...rulesByName.keys()].join(', ')}`);
    const counts: Record<string, number> = {};
    for (const r of reports) counts[r.rule] = (counts[r.rule] ?? 0) + r.count;
    const over = Object.entries(counts).find(([, n]) => n > MAX_COUNT);
    if (over) throw new ValidationError(`body: count for ${over[0]} adds up to more than ${MAX_COUNT}`);
    res.status(202).json({ job_id: await enqueue(counts), counts });
  });

  router.post('/health/logs', ...reporter, ...jsonBody({ accept: ['json', 'ndjson'] }), async (req, res) => {
    const records: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
    if (records.length === 0) throw new ValidationError('body: no log records');
    const bad = records.findIndex((r) => typeof r !== 'object' || r === null || Array.isArray(r));
    if (bad >= 0) {
      const where = req.bodyFormat === 'ndjson' ? `record ${bad + 1}` : `body[${bad}]`;
      throw new ValidationError(`${where}: expected a JSON object with a message and a level`);
    }
    const counts: Record<string, number> = {};
    let matched = 0;
    for (const record of records) {
      const names = matchRecord(record, matcher, rulesByName);
      if (names.length) matched++;
      for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
    }
    res.status(202).json({ records: records.length, matched, counts, job_id: await enqueue(counts) });
  });
  return router;
}
