/**
 * The Standard Task Graph set (Kasahara Lab): reading `.stg` graphs and the optimal-value tables,
 * and a reference list scheduler that replays the engine's dispatch rules on its own. The reference
 * lets the benchmark check that the engine's figures come from the order it claims (FIFO, or
 * longest remaining path then FIFO) and not from an accident of the run.
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One task graph. Task 0 is the dummy entry, task n+1 the dummy exit (both weight 0). */
export interface StgGraph {
  /** Path relative to the set's folder, as in the optimal-value tables: `50/rand0000.stg`. */
  readonly name: string
  readonly weights: readonly number[]
  readonly parents: readonly (readonly number[])[]
}

/** Optimal (or best lower bound) schedule length per graph name, for one size and processor count. */
export type OptimalTable = ReadonlyMap<string, { readonly optimal: number; readonly upper?: number }>

/**
 * Where the STG set lives: `$STG_DIR` when set, else `../../shared/bench/stg` from this folder
 * (the repo's sibling `shared/` checkout).
 */
export function stgDir(): string {
  const fromEnv = process.env['STG_DIR']
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const relative = fileURLToPath(new URL('../../../shared/bench/stg/', import.meta.url))
  if (existsSync(relative)) return relative
  throw new Error(`STG graphs not found at ${relative}; set STG_DIR to the folder holding 50/, 100/ and Optimal_values/`)
}

/** Reads one `.stg` file: `n`, then `id time npred preds…` for n+2 tasks; `#` lines are comments. */
export function parseStg(name: string, text: string): StgGraph {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const n = Number(lines[0])
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: bad task count ${JSON.stringify(lines[0])}`)
  const weights: number[] = []
  const parents: number[][] = []
  for (let i = 0; i < n + 2; i++) {
    const fields = (lines[i + 1] ?? '').split(/\s+/).map(Number)
    const [id, time, count] = fields
    if (id !== i || time === undefined || count === undefined || fields.length !== 3 + count) throw new Error(`${name}: bad line for task ${i}: ${JSON.stringify(lines[i + 1])}`)
    weights.push(time)
    parents.push(fields.slice(3))
  }
  return { name, weights, parents }
}

/** Every graph of one size (`50` or `100`), in file-name order. */
export function loadGraphs(dir: string, size: number): StgGraph[] {
  const folder = join(dir, String(size))
  return readdirSync(folder)
    .filter((f) => f.endsWith('.stg'))
    .sort()
    .map((f) => parseStg(`${size}/${f}`, readFileSync(join(folder, f), 'utf8')))
}

/**
 * Reads `Optimal_values/Case{size}_{P}_OPT.csv`: `graph,processors,optimal[,upper]`. Where a fourth
 * column is present the third is the best lower bound and the fourth the best known length; the
 * third column is used as "optimal" either way. A header line, if any, is skipped.
 */
export function loadOptimal(dir: string, size: number, processors: number): OptimalTable {
  const table = new Map<string, { optimal: number; upper?: number }>()
  const text = readFileSync(join(dir, 'Optimal_values', `Case${size}_${processors}_OPT.csv`), 'utf8')
  for (const line of text.split('\n')) {
    const [graph, , optimal, upper] = line.trim().split(',')
    if (graph === undefined || optimal === undefined || !/^\d+(\.\d+)?$/.test(optimal)) continue
    table.set(graph, upper !== undefined && upper !== '' ? { optimal: Number(optimal), upper: Number(upper) } : { optimal: Number(optimal) })
  }
  return table
}

/** Children lists (ascending index), derived from parents. */
export function childrenOf(parents: readonly (readonly number[])[]): number[][] {
  const children: number[][] = parents.map(() => [])
  parents.forEach((list, i) => {
    for (const p of list) children[p]?.push(i)
  })
  return children
}

/**
 * Reference list scheduler, written independently of the engine but with its rules: ready tasks are
 * ordered by `rank` (higher first) then by the order they became ready; when tasks finish at the
 * same instant they are processed one at a time in start order, each freeing its slot, readying its
 * children (ascending index) and starting what fits before the next one is processed. With every
 * rank 0 this is FIFO; with rank = longest remaining path (weights) it is critical-path (HLFET).
 * Returns the schedule length.
 */
export function referenceSchedule(graph: StgGraph, processors: number, order: 'fifo' | 'critical-path', onStart?: (task: number, time: number) => void): number {
  const { weights, parents } = graph
  const n = weights.length
  const children = childrenOf(parents)
  const rank = new Float64Array(n)
  if (order === 'critical-path') {
    // Task indices of an STG file are a topological order (every predecessor has a smaller id).
    for (let i = n - 1; i >= 0; i--) {
      let best = 0
      for (const c of children[i] as number[]) best = Math.max(best, rank[c] as number)
      rank[i] = best + (weights[i] as number)
    }
  }
  const waiting = parents.map((p) => p.length)
  const readySeq = new Float64Array(n)
  let seq = 0
  const ready: number[] = []
  const makeReady = (t: number): void => {
    readySeq[t] = seq++
    ready.push(t)
  }
  const popBest = (): number => {
    let best = 0
    for (let k = 1; k < ready.length; k++) {
      const a = ready[k] as number
      const b = ready[best] as number
      if ((rank[a] as number) > (rank[b] as number) || ((rank[a] as number) === (rank[b] as number) && (readySeq[a] as number) < (readySeq[b] as number))) best = k
    }
    return ready.splice(best, 1)[0] as number
  }
  // Running tasks as [finish time, start order, task], processed by (finish, start order).
  const running: [number, number, number][] = []
  let started = 0
  let now = 0
  let finished = 0
  const pump = (): void => {
    while (running.length < processors && ready.length > 0) {
      const t = popBest()
      onStart?.(t, now)
      running.push([now + (weights[t] as number), started++, t])
    }
  }
  for (let i = 0; i < n; i++) if (waiting[i] === 0) makeReady(i)
  pump()
  while (finished < n) {
    running.sort((a, b) => a[0] - b[0] || a[1] - b[1])
    const first = running[0]
    if (first === undefined) throw new Error(`${graph.name}: nothing running and ${n - finished} tasks left (cycle?)`)
    now = first[0]
    // Everything due now finishes in start order; tasks started meanwhile (even zero-length ones) wait for the next instant.
    // Each frees its own slot only when it is processed (a later one still holds its slot meanwhile).
    const due = running.filter((r) => r[0] === now)
    for (const entry of due) {
      running.splice(running.indexOf(entry), 1)
      const t = entry[2]
      finished++
      for (const c of children[t] as number[]) {
        waiting[c] = (waiting[c] as number) - 1
        if (waiting[c] === 0) makeReady(c)
      }
      pump()
    }
  }
  return now
}
