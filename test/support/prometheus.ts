import { expect } from 'vitest';

export type Families = Map<string, { type: string; samples: { name: string; labels: Record<string, string>; value: number }[] }>;

/**
 * A strict reading of the Prometheus text exposition format (0.0.4): HELP/TYPE comments, then
 * samples `name{label="value",...} value`, every sample's family declared by a TYPE line first.
 */
export function parsePrometheus(text: string): Families {
  const families: Families = new Map();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  // Values are read as Prometheus reads them (Go's ParseFloat): NaN and Inf in any case; prom-client writes "Nan".
  const sample = new RegExp(
    `^(${NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|[Nn][Aa][Nn]|[+-]?[Ii]nf))(?: -?[0-9]+)?$`,
  );
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.trimEnd().split('\n')) {
    if (line === '') continue; // the format allows empty lines
    if (line.startsWith('# HELP ')) {
      expect(line).toMatch(new RegExp(`^# HELP ${NAME} .*$`));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      expect(m, line).not.toBeNull();
      expect(families.has(m![1]!), `TYPE declared twice: ${line}`).toBe(false);
      families.set(m![1]!, { type: m![2]!, samples: [] });
      continue;
    }
    const m = sample.exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    const name = m![1]!;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count|total|created)$/, ''));
    expect(family, `sample before its TYPE: ${line}`).toBeDefined();
    const labels = Object.fromEntries(
      [...(m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    family!.samples.push({ name, labels, value: Number(m![3]) });
  }
  return families;
}
