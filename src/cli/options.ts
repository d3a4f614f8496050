/** Parsers of the CLI's option values; a bad value is a usage error naming what was expected. */
import { InvalidArgumentError, Option } from 'commander';

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `--queues a,b`, repeatable. */
export function queuesOption(description: string): Option {
  return listOption('--queues <list>', 'queue names', description);
}

export function providersOption(description: string): Option {
  return listOption('--providers <list>', 'provider names', description);
}

function listOption(flags: string, what: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] | undefined) => {
    const list = splitList(value);
    if (!list.length) throw new InvalidArgumentError(`expected a comma list of ${what}`);
    return [...new Set([...(previous ?? []), ...list])];
  });
}

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return n;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+[smhd])+$/;
// The API takes ISO 8601 with an offset only: a bare local time would mean different instants on the laptop and the server.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** `--until`: a duration from now (`30m`, `2h`, `1h30m`) or an ISO time with offset; sent as ISO UTC. */
export function parseUntil(value: string, nowMs: number = Date.now()): string {
  if (DURATION.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (ms <= 0) throw new InvalidArgumentError('the duration must be longer than zero');
    return new Date(nowMs + ms).toISOString();
  }
  const at = Date.parse(value);
  if (!ISO_WITH_OFFSET.test(value) || Number.isNaN(at)) {
    throw new InvalidArgumentError('expected an ISO time with offset (2025-03-04T18:00:00Z) or a duration such as 30m, 2h, 1h30m');
  }
  return new Date(at).toISOString();
}
