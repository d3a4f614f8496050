import { MAX_SILENCES, type Silence } from '../domain/silence.js';
import { AUDIT_MAXLEN } from './holds.js';
import type { Keys } from './keys.js';
import type { CallguardRedis } from './redis.js';
import { silence } from './scripts.js';

export interface SilenceReply {
  now: number;
  status: 'added' | 'ended' | 'full' | 'missing' | 'expired';
  silences: Silence[];
}

/** Silences in Redis (they survive restarts), each change audited with it (silence-2.lua). */
export class SilenceStore {
  constructor(
    private readonly redis: CallguardRedis,
    private readonly keys: Keys,
  ) {}

  /** Every stored silence, soonest ending first (some may have just ended: compare `until` with now). */
  async list(): Promise<Silence[]> {
    const raw = await this.redis.hvals(this.keys.silences);
    return raw.map((r) => fixLists(JSON.parse(r) as Silence)).sort((a, b) => a.until - b.until);
  }

  /** Stores it unless MAX_SILENCES are stored already (status 'full'). */
  add(s: Omit<Silence, 'since'>): Promise<SilenceReply> {
    return this.run(['add', AUDIT_MAXLEN, JSON.stringify(s), MAX_SILENCES]);
  }

  end(id: string, by: string, reason: string): Promise<SilenceReply> {
    return this.run(['end', AUDIT_MAXLEN, id, by, reason]);
  }

  /** Ends every silence past its `until`. */
  expire(): Promise<SilenceReply> {
    return this.run(['expire', AUDIT_MAXLEN]);
  }

  private async run(argv: Array<string | number>): Promise<SilenceReply> {
    const reply = JSON.parse(await silence(this.redis, { silences: this.keys.silences, audit: this.keys.audit }, argv)) as SilenceReply;
    // cjson encodes an empty Lua table as {}, and a silence's empty lists the same way.
    const list = Array.isArray(reply.silences) ? reply.silences : [];
    return { ...reply, silences: list.map(fixLists) };
  }
}

function fixLists(s: Silence): Silence {
  const arr = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
  return {
    ...s,
    rules: arr(s.rules),
    ...(s.providers ? { providers: arr(s.providers) } : {}),
    ...(s.queues ? { queues: arr(s.queues) } : {}),
  };
}
