import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, isCallguardError, PreconditionFailedError, RulesSourceError, ValidationError } from '../domain/errors.js';
import { parseRules, type Capacities } from '../domain/rules.js';
import {
  contentHash,
  diffContent,
  type PublishedRules,
  type RulesChange,
  type RulesSource,
  type RulesVersion,
} from '../domain/rules-doc.js';
import type { Rule } from '../domain/types.js';
import type { Logger } from 'pino';
import type { RulesStore } from '../store/rules-store.js';

/** How often an instance asks for the active version's number (one HGET): a new version is in force within this. */
export const RULES_POLL_MS = 250;

/** Publishing against a moving store gives up after this many tries (each one round trip). */
const PUBLISH_TRIES = 5;

export type RulesSourceMode = 'file' | 'redis';

export interface RulesSeed {
  /** What the rules file holds (parsed JSON). */
  content: unknown;
  /** Named in validation errors and the audit. */
  file: string;
}

export interface LiveRulesOptions {
  store: RulesStore;
  mode: RulesSourceMode;
  queues: string[];
  seed: RulesSeed;
  logger: Logger;
  /** The rules the seed parsed to (the instance validated them at start-up). */
  seedRules: Rule[];
}

/** A proposal checked like a rules file at start-up: its rules, lint warnings and the diff against the active version. */
export interface CheckedProposal {
  rules: Rule[];
  warnings: string[];
  hash: string;
  changes: RulesChange[];
}

const pick = ({ by, source, reason, changes }: Omit<PublishedRules, 'version' | 'at'>) => ({ by, source, reason, changes });

/**
 * The rules this instance evaluates: always the active version in Redis. `rules` is one array
 * for the instance's life, its contents replaced when another version becomes active, so every
 * part holding it (counters, evaluator, jobs, metrics) reads the version in force.
 */
export class LiveRules {
  readonly rules: Rule[];
  /** The active version's provider capacities (its `providers`), replaced like `rules`. */
  readonly capacities: Capacities = {};
  readonly instance = `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
  private active?: RulesVersion;
  private readonly seedHash: string;
  private timer?: NodeJS.Timeout;
  private polling = false;
  private warnedDiffers = false;
  private readonly listeners: Array<(v: RulesVersion) => void> = [];
  private readonly publishListeners: Array<(p: PublishedRules) => void> = [];
  /** Published by init() before anyone could listen: handed to the first listener. */
  private readonly unheard: PublishedRules[] = [];

  constructor(private readonly opts: LiveRulesOptions) {
    this.rules = [...opts.seedRules];
    this.seedHash = contentHash(opts.seed.content);
  }

  get version(): number {
    return this.active?.version ?? 0;
  }

  get current(): RulesVersion | undefined {
    return this.active;
  }

  get mode(): RulesSourceMode {
    return this.opts.mode;
  }

  /** File mode: this instance's file is not the active version (another instance published a newer one). */
  get fileDiffers(): boolean {
    return this.opts.mode === 'file' && this.active !== undefined && this.active.hash !== this.seedHash;
  }

  /** Called after another version became active here (not for the first one). */
  onChange(listener: (v: RulesVersion) => void): void {
    this.listeners.push(listener);
  }

  /** Called for each version this instance published (at start-up, an edit, a rollback): to announce it once. */
  onPublished(listener: (p: PublishedRules) => void): void {
    this.publishListeners.push(listener);
    for (const p of this.unheard.splice(0)) listener(p);
  }

  private published(p: PublishedRules): void {
    if (!this.publishListeners.length) this.unheard.push(p);
    for (const l of this.publishListeners) l(p);
  }

  /**
   * At start-up. file: the file becomes the active version unless it already is. redis: the
   * active version is used; the file seeds an empty store only.
   */
  async init(): Promise<void> {
    const { store, mode, seed } = this.opts;
    for (let i = 0; i < PUBLISH_TRIES; i++) {
      const active = await store.active();
      if (active && (mode === 'redis' || active.hash === this.seedHash)) return this.adopt(active, true);
      const source: RulesSource = active ? 'file' : mode === 'redis' ? 'seed' : 'file';
      const request = {
        expected: active?.version ?? 0,
        hash: this.seedHash,
        content: seed.content,
        by: `instance ${this.instance}`,
        source,
        sameOk: true,
        reason: `${seed.file} ${active ? `differs from version ${active.version}` : 'seeds the empty rules store'}`,
        changes: diffContent(active?.content ?? {}, seed.content),
      };
      const result = await store.publish(request);
      if (result.status === 'stale') continue;
      if (result.status === 'published') this.published({ ...pick(request), version: result.version, at: result.at });
      const now = await store.active();
      if (now) return this.adopt(now, true);
    }
    throw new ConfigError(`rules store: the active version kept changing; gave up after ${PUBLISH_TRIES} tries`);
  }

  /** Watches the store for a new active version (see RULES_POLL_MS). */
  start(): this {
    this.timer ??= setInterval(() => void this.poll(), RULES_POLL_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the active version if it moved, and makes it this instance's. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if ((await this.opts.store.activeVersion()) === this.version) return;
      const active = await this.opts.store.active();
      if (active && active.version !== this.version) this.adopt(active, false);
    } catch (err) {
      this.opts.logger.debug({ err }, 'could not read the active rules version');
    } finally {
      this.polling = false;
    }
  }

  /** Validates a proposal as the start-up check would (400 naming rule and field) and diffs it against the active version. */
  check(content: unknown, label = 'proposal'): CheckedProposal {
    let parsed;
    try {
      parsed = parseRules(JSON.stringify(content), label, this.opts.queues);
    } catch (err) {
      if (isCallguardError(err) && err instanceof ConfigError) throw new ValidationError(err.message);
      throw err;
    }
    return { ...parsed, hash: contentHash(content), changes: diffContent(this.active?.content ?? {}, content) };
  }

  /**
   * Publishes `content` as the next version if `expected` is still the active one (412 otherwise,
   * nothing changed). Refused in file mode (409). Answers the new version, already in force here.
   */
  async publish(req: { content: unknown; expected: number; by: string; source: RulesSource; reason?: string }): Promise<RulesVersion> {
    if (this.opts.mode === 'file') throw new RulesSourceError();
    const checked = this.check(req.content);
    const request = {
      expected: req.expected,
      hash: checked.hash,
      content: req.content,
      by: req.by,
      source: req.source,
      reason: req.reason ?? `${req.source === 'rollback' ? 'rolled back' : 'edited'} by ${req.by}`,
      changes: checked.changes,
    };
    const result = await this.opts.store.publish(request);
    if (result.status !== 'published') {
      throw new PreconditionFailedError(
        `rules: version ${req.expected} is no longer active (active: ${result.version}); nothing was changed`,
      );
    }
    this.published({ ...pick(request), version: result.version, at: result.at });
    const active = await this.opts.store.active();
    if (active && active.version >= result.version) this.adopt(active, false);
    return this.active!;
  }

  private adopt(v: RulesVersion, first: boolean): void {
    let rules: Rule[];
    let capacities: Capacities;
    try {
      ({ rules, capacities } = parseRules(JSON.stringify(v.content), `rules version ${v.version}`, this.opts.queues));
    } catch (err) {
      // Another instance's version that this one cannot run (e.g. other CALLGUARD_QUEUES): keep the current rules.
      if (first) throw err;
      this.opts.logger.error({ err, version: v.version }, 'cannot use the active rules version here; keeping the previous one');
      return;
    }
    this.rules.splice(0, this.rules.length, ...rules);
    for (const p of Object.keys(this.capacities)) delete this.capacities[p];
    Object.assign(this.capacities, capacities);
    this.active = v;
    if (this.fileDiffers && !this.warnedDiffers) {
      this.warnedDiffers = true;
      this.opts.logger.warn(
        { version: v.version, by: v.by },
        `${this.opts.seed.file} differs from the active rules version ${v.version} (published by ${v.by}); following the active version`,
      );
    }
    if (!first) for (const l of this.listeners) l(v);
  }
}
