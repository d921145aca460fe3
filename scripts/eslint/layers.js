/**
 * Lint rules that keep the layers of docs/architecture.md true: `layers/order` refuses an import
 * (type-only included) from a lower layer into a higher one, or between two folders of the same
 * layer; `layers/no-cycle` refuses a file that takes part in an import cycle among `src/` files
 * (type-only imports included). Plain ESM so ESLint loads it without a build.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/**
 * Rank of each top-level folder of `src/` (and of `src/index.ts`): a file may import only from
 * folders of a lower rank, or from its own folder. Keep in step with docs/architecture.md.
 */
export const LAYER_RANKS = {
  core: 0,
  testing: 1,
  workflow: 1,
  stores: 1,
  queues: 1,
  scheduler: 2,
  observe: 2,
  tools: 2,
  llm: 2,
  fsm: 2,
  workers: 2,
  agents: 3,
  background: 4,
  engine: 5,
  seeds: 6,
  distributed: 6,
  compat: 7,
  server: 7,
  otel: 7,
  web: 1,
  cli: 8,
  '(root)': 9,
}

/** The top-level folder of `src/` a file is in (`(root)` for files directly in `src/`), or undefined outside `src/`. */
function layerOf(srcDir, file) {
  const rel = relative(srcDir, file)
  if (rel.startsWith('..')) return undefined
  const parts = rel.split(sep)
  return parts.length === 1 ? '(root)' : parts[0]
}

/** Relative import specifiers of a module's text (static imports and re-exports, type-only included). */
function specifiersOf(text) {
  const found = []
  const pattern = /(?:^|\n)\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"](\.[^'"]+)['"]/g
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) found.push(m[1])
  return found
}

/** `./x.js` written in TypeScript source names `./x.ts`. */
function toSourcePath(fromFile, specifier) {
  return resolve(dirname(fromFile), specifier).replace(/\.js$/, '.ts')
}

let cachedGraph
/** The import graph of every non-test `.ts` file under `src/`, built once per lint process. */
function importGraph(srcDir) {
  if (cachedGraph?.srcDir === srcDir) return cachedGraph.graph
  const graph = new Map()
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        graph.set(path, specifiersOf(readFileSync(path, 'utf8')).map((s) => toSourcePath(path, s)))
      }
    }
  }
  walk(srcDir)
  cachedGraph = { srcDir, graph }
  return graph
}

/** A cycle through `start` (as a list of files, first = last), or undefined. Iterative DFS. */
function cycleThrough(graph, start) {
  const stack = [[start, 0]]
  const onPath = new Set([start])
  const seen = new Set()
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]
    const [node, k] = frame
    const next = graph.get(node) ?? []
    if (k >= next.length) {
      stack.pop()
      onPath.delete(node)
      seen.add(node)
      continue
    }
    frame[1]++
    const target = next[k]
    if (target === start) return [...stack.map((f) => f[0]), start]
    if (onPath.has(target) || seen.has(target) || !graph.has(target)) continue
    onPath.add(target)
    stack.push([target, 0])
  }
  return undefined
}

const order = {
  meta: { type: 'problem', docs: { description: 'imports point down the layers of docs/architecture.md' }, schema: [] },
  create(context) {
    const srcDir = resolve(context.cwd, 'src')
    const file = context.filename
    const from = layerOf(srcDir, file)
    if (from === undefined || file.endsWith('.test.ts')) return {}
    const check = (node) => {
      const specifier = node.source?.value
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return
      const to = layerOf(srcDir, toSourcePath(file, specifier))
      if (to === undefined || to === from) return
      const fromRank = LAYER_RANKS[from]
      const toRank = LAYER_RANKS[to]
      if (fromRank === undefined || toRank === undefined) {
        context.report({ node, message: `folder "${fromRank === undefined ? from : to}" has no layer: add it to LAYER_RANKS in scripts/eslint/layers.js and to docs/architecture.md` })
      } else if (toRank >= fromRank) {
        context.report({ node, message: `"${from}" (layer ${fromRank}) may not import from "${to}" (layer ${toRank}): imports point down the layers (docs/architecture.md)` })
      }
    }
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check }
  },
}

const noCycle = {
  meta: { type: 'problem', docs: { description: 'no import cycles among src/ files, type-only imports included' }, schema: [] },
  create(context) {
    const srcDir = resolve(context.cwd, 'src')
    const file = context.filename
    if (layerOf(srcDir, file) === undefined || file.endsWith('.test.ts')) return {}
    return {
      Program(node) {
        const cycle = cycleThrough(importGraph(srcDir), file)
        if (cycle !== undefined) context.report({ node, message: `import cycle: ${cycle.map((f) => relative(srcDir, f)).join(' → ')}` })
      },
    }
  },
}

/** The ESLint plugin. */
export default { rules: { order, 'no-cycle': noCycle } }
