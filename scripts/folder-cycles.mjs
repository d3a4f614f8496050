// Folder-level import rules for src/ (madge --circular only sees loops between files):
// 1. a folder imports only from folders before it in ORDER (the data flow, as README's layout table);
// 2. no loop between folders at all, which also covers a folder missing from ORDER.
// Type-only imports count: they are a dependency of the design even when they vanish from the JavaScript.
import madge from 'madge';

const ORDER = ['domain', 'store', 'engine', 'jobs', 'notify', 'client', 'ops', 'http', 'app', 'cli'];

// Loops owned by work in progress elsewhere; each entry names the edge to remove and why.
const KNOWN = new Map([]);

const graph = await (await madge('src', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json' })).obj();
const folderOf = (file) => file.split('/')[0];

/** folder -> folder -> one file-level import that makes the edge, for the message. */
const edges = new Map();
const seenKnown = new Set();
for (const [file, deps] of Object.entries(graph)) {
  for (const dep of deps) {
    const [from, to] = [folderOf(file), folderOf(dep)];
    if (from === to || !file.includes('/') || !dep.includes('/')) continue;
    if (KNOWN.has(`${from} -> ${to}`)) {
      seenKnown.add(`${from} -> ${to}`);
      continue;
    }
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${file} -> ${dep}`);
  }
}

// A known edge that no longer exists must go from the list, so it cannot come back unnoticed.
for (const edge of KNOWN.keys()) {
  if (!seenKnown.has(edge)) {
    console.error(`scripts/folder-cycles.mjs: the known edge "${edge}" is gone; remove it from KNOWN`);
    process.exitCode = 1;
  }
}

const backwards = [];
for (const [from, tos] of edges) {
  for (const [to, via] of tos) {
    if (ORDER.includes(from) && ORDER.includes(to) && ORDER.indexOf(to) > ORDER.indexOf(from)) backwards.push(`${from} -> ${to}  (${via})`);
  }
}
if (backwards.length) {
  console.error(`Imports against the data flow (${ORDER.join(' → ')}):`);
  for (const line of backwards) console.error(`  ${line}`);
  process.exitCode = 1;
}

// Tarjan's strongly connected components: every component with more than one folder is a loop.
let index = 0;
const stack = [];
const state = new Map();
const loops = [];
function visit(v) {
  state.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) {
      state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
    }
  }
  if (state.get(v).low !== state.get(v).index) return;
  const component = [];
  let w;
  do {
    w = stack.pop();
    state.get(w).onStack = false;
    component.push(w);
  } while (w !== v);
  if (component.length > 1) loops.push(component);
}
for (const v of edges.keys()) if (!state.has(v)) visit(v);

if (loops.length) {
  console.error('Import loops between folders under src/:');
  for (const loop of loops) {
    console.error(`  ${loop.sort().join(', ')}`);
    for (const from of loop) {
      for (const [to, via] of edges.get(from) ?? []) if (loop.includes(to)) console.error(`    ${from} -> ${to}  (${via})`);
    }
  }
  process.exitCode = 1;
}
if (process.exitCode) process.exit();
const count = [...edges.values()].reduce((n, m) => n + m.size, 0);
console.log(
  `Imports follow the data flow; no import loops between ${new Set([...Object.keys(graph)].filter((f) => f.includes('/')).map(folderOf)).size} folders under src/ (${count} folder edges; ${KNOWN.size} known edge(s) skipped: ${[...KNOWN.keys()].join(', ')}).`,
);
