import type { RulesChange, RulesSource, RulesVersion } from '../domain/rules-doc.js';
import { AUDIT_MAXLEN } from './holds.js';
import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { publishRules } from './scripts.js';

/** Versions kept for diff and rollback. */
export const RULES_HISTORY = 50;

export type PublishResult =
  { status: 'published'; version: number; at: number } | { status: 'stale'; version: number } | { status: 'same'; version: number };

export interface PublishRequest {
  /** The active version this change was made against (0: the store must be empty). */
  expected: number;
  hash: string;
  content: unknown;
  by: string;
  source: RulesSource;
  /** An equal content is not published again (a booting instance whose file matches). */
  sameOk?: boolean;
  reason: string;
  changes: RulesChange[];
}

/** The versioned rules document every instance shares (publish-rules-3.lua keeps it). */
export class RulesStore {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** The active version's number; 0 while the store is empty. One HGET: cheap enough to poll. */
  async activeVersion(): Promise<number> {
    return Number((await this.redis.hget(this.keys.rulesActive, 'version')) ?? 0);
  }

  async active(): Promise<RulesVersion | undefined> {
    const doc = await this.redis.hget(this.keys.rulesActive, 'doc');
    return doc === null ? undefined : (JSON.parse(doc) as RulesVersion);
  }

  /** Newest first, at most RULES_HISTORY. */
  async versions(): Promise<RulesVersion[]> {
    return (await this.redis.lrange(this.keys.rulesHistory, 0, RULES_HISTORY - 1)).map((d) => JSON.parse(d) as RulesVersion);
  }

  async version(n: number): Promise<RulesVersion | undefined> {
    return (await this.versions()).find((v) => v.version === n);
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    const doc = JSON.stringify({ hash: req.hash, by: req.by, source: req.source, content: req.content });
    const [status, version, at] = await publishRules(
      this.redis,
      { active: this.keys.rulesActive, history: this.keys.rulesHistory, audit: this.keys.audit },
      [
        String(req.expected),
        req.hash,
        doc,
        req.sameOk ? 'same-ok' : '',
        String(RULES_HISTORY),
        String(AUDIT_MAXLEN),
        req.by,
        req.reason,
        JSON.stringify({ source: req.source, hash: req.hash, changes: req.changes }),
      ],
    );
    if (status === 'published') return { status, version: Number(version), at: Number(at) };
    return { status, version: Number(version) };
  }
}
