import type { Rule } from './types.js';

export interface PhraseEntry {
  phrase: string;
  rule: string;
}

/**
 * Case-insensitive multi-phrase substring matcher (Aho–Corasick). Built once per rule set so that
 * each log line costs O(line length + matches) however many rules and phrases are configured.
 */
export class PhraseMatcher {
  /** Node 0 is the root. Edges are keyed by UTF-16 code unit, which is enough for substring tests. */
  private readonly edges: Map<number, number>[] = [new Map<number, number>()];
  private readonly fail: number[] = [0];
  /** Rule names whose phrases end at this node, including those inherited through fail links. */
  private readonly outputs: string[][] = [[]];
  /** The root's edges for ASCII units as an array (0: none): most of a line's units are read at the root. */
  private readonly rootAscii = new Int32Array(128);

  constructor(entries: ReadonlyArray<PhraseEntry | Rule>) {
    const own: Set<string>[] = [new Set()];
    for (const { phrase, rule } of flatten(entries)) {
      if (phrase.length === 0) throw new Error(`PhraseMatcher: rule "${rule}" has an empty phrase`);
      const lower = phrase.toLowerCase();
      let node = 0;
      for (let i = 0; i < lower.length; i++) {
        const unit = lower.charCodeAt(i);
        let child = this.edges[node]!.get(unit);
        if (child === undefined) {
          child = this.edges.length;
          this.edges.push(new Map());
          this.fail.push(0);
          this.outputs.push([]);
          own.push(new Set());
          this.edges[node]!.set(unit, child);
        }
        node = child;
      }
      own[node]!.add(rule);
    }
    for (const [unit, child] of this.edges[0]!) if (unit < 128) this.rootAscii[unit] = child;
    this.linkFailures(own);
  }

  /** Names of the rules with at least one phrase occurring in `text`. */
  match(text: string): Set<string> {
    const found = new Set<string>();
    const lower = text.toLowerCase();
    let node = 0;
    for (let i = 0; i < lower.length; i++) {
      node = this.step(node, lower.charCodeAt(i));
      const out = this.outputs[node]!;
      if (out.length !== 0) for (const rule of out) found.add(rule);
    }
    return found;
  }

  private step(node: number, unit: number): number {
    for (;;) {
      if (node === 0 && unit < 128) return this.rootAscii[unit]!;
      const next = this.edges[node]!.get(unit);
      if (next !== undefined) return next;
      if (node === 0) return 0;
      node = this.fail[node]!;
    }
  }

  /** Breadth-first, so a node's fail target (always shallower) is complete before the node. */
  private linkFailures(own: Set<string>[]): void {
    // Depth-1 nodes keep fail = 0; deeper ones follow their parent's fail chain.
    const queue = [...this.edges[0]!.values()];
    for (let i = 0; i < queue.length; i++) {
      const node = queue[i]!;
      const inherited = this.outputs[this.fail[node]!]!;
      this.outputs[node] = [...new Set([...own[node]!, ...inherited])];
      for (const [unit, child] of this.edges[node]!) {
        this.fail[child] = this.step(this.fail[node]!, unit);
        queue.push(child);
      }
    }
  }
}

function* flatten(entries: ReadonlyArray<PhraseEntry | Rule>): Iterable<PhraseEntry> {
  for (const entry of entries) {
    if ('logPatterns' in entry) {
      for (const phrase of entry.logPatterns) yield { phrase, rule: entry.name };
    } else {
      yield entry;
    }
  }
}
