import { z } from 'zod';
import { RulesSourceError, ValidationError } from '../../domain/errors.js';
import type { RulesVersion } from '../../domain/rules-doc.js';
import { dryRunView, rulesVersionView } from './present.js';
import { route, zodBody } from './route.js';
import {
  activeRulesViewSchema,
  dryRunViewSchema,
  errorViewSchema,
  rulesDiffViewSchema,
  rulesVersionViewSchema,
  rulesVersionsViewSchema,
} from './views.js';

/** A proposal: exactly what a rules file holds; validated as at start-up, not by this schema. */
const rulesContent = z
  .record(z.string(), z.unknown())
  .meta({ id: 'RulesFile', description: 'The rules, exactly as a rules file holds them (see docs/rules.md).' });

const rollbackBody = z.strictObject({ version: z.number().int().positive() }).meta({ id: 'RollbackRequest' });

const FROM_FILE = {
  description: 'Rules come from the rules file here (CALLGUARD_RULES_SOURCE=file); nothing was changed.',
  schema: errorViewSchema,
};

const ETAG = { ETag: 'The version, quoted: send it back as If-Match to change the rules.' };

/** `"7"`, `W/"7"` or `7` → 7. */
function ifMatchVersion(header: string | undefined): number {
  const m = header === undefined ? null : /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!m) throw new ValidationError('If-Match: required, the version this change was made against (the ETag of GET /health/rules)');
  return Number(m[1]);
}

function activeView(v: RulesVersion, mode: 'file' | 'redis') {
  return { ...rulesVersionView(v), content: v.content as Record<string, unknown>, rules_source: mode };
}

/** The shared rules: viewers read and compare; admins edit and roll back (CALLGUARD_RULES_SOURCE=redis). */
export const rulesRoutes = [
  route({
    method: 'get',
    path: '/health/rules',
    operationId: 'getRules',
    tag: 'admin',
    summary: 'The active rules version',
    access: { roles: ['viewer'] },
    responses: { 200: { description: 'The active version and its rules.', schema: activeRulesViewSchema, headers: ETAG } },
  }).handle(async ({ deps }) => {
    const v = await deps.rules.active();
    return { status: 200, json: activeView(v, deps.rules.mode), headers: { ETag: `"${v.version}"` } };
  }),
  route({
    method: 'put',
    path: '/health/rules',
    operationId: 'putRules',
    tag: 'admin',
    summary: 'Replace the rules (a new version)',
    description:
      'Needs `If-Match: "<version>"` (the ETag of GET /health/rules). Validated as the rules file is at start-up; ' +
      'all or nothing. Every instance runs the new version within a second; a removed rule’s hold is released. ' +
      'Refused with 409 while CALLGUARD_RULES_SOURCE=file.',
    access: { roles: ['admin'] },
    body: zodBody(rulesContent),
    responses: {
      200: { description: 'The new active version.', schema: activeRulesViewSchema, headers: ETAG },
      409: FROM_FILE,
      412: { description: 'If-Match is not the active version any more; nothing was changed.', schema: errorViewSchema },
    },
  }).handle(async ({ deps, body, req, user }) => {
    if (deps.rules.mode === 'file') throw new RulesSourceError();
    const expected = ifMatchVersion(req.get('if-match'));
    const v = await deps.rules.publish({ content: body, expected, by: user!.name });
    return { status: 200, json: activeView(v, deps.rules.mode), headers: { ETag: `"${v.version}"` } };
  }),
  route({
    method: 'post',
    path: '/health/rules/diff',
    operationId: 'diffRules',
    tag: 'admin',
    summary: 'Validate a proposal and compare it with the active rules',
    description: 'Changes nothing. 400 names the rule and field of every problem, as at start-up.',
    access: { roles: ['viewer'] },
    body: zodBody(rulesContent),
    responses: { 200: { description: 'What the proposal would change.', schema: rulesDiffViewSchema } },
  }).handle(async ({ deps, body }) => ({ status: 200, json: deps.rules.check(body) })),
  route({
    method: 'post',
    path: '/health/rules/dry-run',
    operationId: 'dryRunRules',
    tag: 'admin',
    summary: 'What a proposal would do now, and over the last 24 hours',
    description:
      'Changes nothing. Validated as at start-up (400 naming rule and field). `now`: the rules that would trip and the ' +
      'holds that would be placed or released at once. `replay`: per rule, when it would have tripped and resumed over ' +
      'the kept per-minute counts, beside what the active rules did. A rule whose log_patterns changed cannot be ' +
      'replayed (the lines are not kept) and says so.',
    access: { roles: ['viewer'] },
    body: zodBody(rulesContent),
    responses: { 200: { description: 'The dry run.', schema: dryRunViewSchema } },
  }).handle(async ({ deps, body }) => ({ status: 200, json: dryRunView(await deps.rules.dryRun(body)) })),
  route({
    method: 'get',
    path: '/health/rules/versions',
    operationId: 'getRulesVersions',
    tag: 'admin',
    summary: 'The kept rules versions, newest first (the last 50)',
    access: { roles: ['viewer'] },
    responses: { 200: { description: 'Versions.', schema: rulesVersionsViewSchema } },
  }).handle(async ({ deps }) => ({ status: 200, json: { versions: (await deps.rules.versions()).map(rulesVersionView) } })),
  route({
    method: 'post',
    path: '/health/rules/rollback',
    operationId: 'rollbackRules',
    tag: 'admin',
    summary: 'Make a kept version’s rules active again (as a new version)',
    access: { roles: ['admin'] },
    body: zodBody(rollbackBody),
    responses: {
      200: { description: 'The new active version.', schema: rulesVersionViewSchema },
      404: { description: 'That version is not kept any more.', schema: errorViewSchema },
      409: FROM_FILE,
    },
  }).handle(async ({ deps, body, user }) => {
    if (deps.rules.mode === 'file') throw new RulesSourceError();
    const v = await deps.rules.rollback({ version: body.version, by: user!.name });
    return { status: 200, json: rulesVersionView(v), headers: { ETag: `"${v.version}"` } };
  }),
];
