/**
 * A local stand-in for Slack's Web API: records every request the real WebClient makes and can be
 * told to fail the next ones with a status (500), a 429 with Retry-After, or a Slack error code.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackRequest {
  /** Web API method, e.g. `chat.postMessage`. */
  method: string;
  headers: IncomingHttpHeaders;
  /** Form fields; JSON-valued ones (blocks) parsed. */
  body: Record<string, any>;
  at: number;
  /** What the fake answered: the HTTP status, and Slack's error code when it said `ok: false`. */
  status: number;
  error?: string;
  /** The message ts the fake answered with, for a later chat.update or button press. */
  ts?: string;
}

type Answer = { status: number; retryAfter?: number; error?: string };

export class FakeSlack {
  readonly requests: SlackRequest[] = [];
  private readonly plan: Answer[] = [];
  private seq = 0;

  private constructor(
    private readonly server: Server,
    /** Base URL to give WebClient as slackApiUrl / SLACK_API_URL. */
    readonly url: string,
  ) {}

  static async start(): Promise<FakeSlack> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => fake.answer(req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeSlack(server, `http://127.0.0.1:${port}/api/`);
    return fake;
  }

  /** The next `times` requests answer with this HTTP status. */
  failNext(times: number, status = 500): this {
    for (let i = 0; i < times; i++) this.plan.push({ status });
    return this;
  }

  /** The next `times` requests answer 429 with `Retry-After: <seconds>`. */
  rateLimitNext(retryAfterSeconds: number, times = 1): this {
    for (let i = 0; i < times; i++) this.plan.push({ status: 429, retryAfter: retryAfterSeconds });
    return this;
  }

  /** The next request answers 200 `{ok: false, error}` as Slack does for a bad channel or token. */
  errorNext(error: string): this {
    this.plan.push({ status: 200, error });
    return this;
  }

  /** Requests to a method that Slack accepted. */
  delivered(method: string): SlackRequest[] {
    return this.requests.filter((r) => r.method === method && r.status === 200 && !r.error);
  }

  attempts(method: string): SlackRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(url: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    const method = url.replace(/^\/api\//, '').split('?')[0]!;
    const body = parseBody(raw, headers['content-type']);
    const next = this.plan.shift() ?? { status: 200 };
    const error = next.error ?? (headers.authorization === `Bearer ${FAKE_TOKEN}` ? undefined : 'invalid_auth');
    const record: SlackRequest = { method, headers, body, at: Date.now(), status: next.status, ...(error ? { error } : {}) };
    this.requests.push(record);
    if (next.status !== 200) {
      res.writeHead(next.status, {
        'content-type': 'text/plain',
        ...(next.retryAfter !== undefined ? { 'retry-after': String(next.retryAfter) } : {}),
      });
      res.end(next.status === 429 ? 'ratelimited' : 'upstream trouble');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (error) {
      res.end(JSON.stringify({ ok: false, error }));
      return;
    }
    const ts = method === 'chat.update' ? body.ts : `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, '0')}`;
    record.ts = ts;
    res.end(JSON.stringify({ ok: true, channel: body.channel, ts, message: { text: body.text, blocks: body.blocks } }));
  }
}

/** The token the fake accepts; anything else gets `invalid_auth`, as from Slack. */
export const FAKE_TOKEN = 'xoxb-fake-token';

function parseBody(raw: string, contentType: string | undefined): Record<string, any> {
  if (contentType?.includes('application/json')) return JSON.parse(raw || '{}');
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = v.startsWith('[') || v.startsWith('{') ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
