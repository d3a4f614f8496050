/** The HTTP API as the CLI calls it: bearer token from the environment, JSON in and out, clear failures. */
import { errorViewSchema } from '../http/api/views.js';
import { CliError, EXIT, usage } from './exit.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
const TIMEOUT_MS = 15_000;

export class ApiClient {
  constructor(
    readonly base: URL,
    private readonly token: string | undefined,
  ) {}

  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    if (!this.token) throw usage('CALLGUARD_TOKEN is not set: export the secret of a callguard principal (it is never taken as a flag)');
    const url = new URL(path, this.base);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(method === 'POST' || method === 'PUT' ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(method === 'POST' || method === 'PUT' ? { body: JSON.stringify(body ?? {}) } : {}),
        // A redirect would be answered by something other than the API; never resend the token to it.
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      const what = (err as Error)?.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s from` : `cannot connect to`;
      throw new CliError(`${what} callguard at ${this.base.href} (${networkReason(err)}); check --url or CALLGUARD_URL`, EXIT.failed);
    }
    const json = parseJson(text);
    if (!res.ok) {
      const answer = errorViewSchema.safeParse(json);
      if (answer.success) {
        const { code, message } = answer.data.error;
        throw new CliError(`${message} (HTTP ${res.status} ${code})`, EXIT.failed);
      }
      throw new CliError(`HTTP ${res.status} ${res.statusText} from ${url.href}${text ? `: ${oneLine(text)}` : ''}`, EXIT.failed);
    }
    if (json === undefined)
      throw new CliError(`${url.href} answered HTTP ${res.status} without JSON; is --url the callguard API?`, EXIT.failed);
    return json as T;
  }
}

export function baseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`--url: ${raw} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--url: ${raw} is not an http(s) URL`);
  // Keeps a path prefix (callguard behind a reverse proxy at /callguard/) when routes are resolved against it.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function networkReason(err: unknown): string {
  if ((err as Error)?.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 200);
