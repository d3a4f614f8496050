import { z } from 'zod';
import type { Snapshot } from './snapshot.js';
import { failoverLines, holdsSection } from './holds-section.js';
import { queuesSection, rulesSection } from './rules-section.js';
import { timelineSection } from './timeline-section.js';

/** The console's live regions, rendered once on the server: the page embeds them, GET /admin/api/view refreshes them. */
export const viewSchema = z.object({ rules: z.string(), queues: z.string(), holds: z.string(), timeline: z.string() });
export type View = z.infer<typeof viewSchema>;

export function render(s: Snapshot, canAct: boolean): View {
  return {
    rules: rulesSection(s.rules),
    queues: queuesSection(s.queues),
    holds: holdsSection(s.holds, s.rules, s.autoResumeMinutes, canAct) + failoverLines(s.failover),
    timeline: timelineSection(
      s.audit,
      s.rules.map((r) => r.rule.name),
    ),
  };
}
