/**
 * Table cells and ratios for a contender measured cold and warm (see `measureColdWarm` in
 * `harness.ts`), so every benchmark prints the two the same way: the warm figure first (the steady
 * state after a short warm-up), then the cold one (the first run in a fresh process).
 * @module
 */
import { int, median, ms, times } from './format.js'
import { measureColdWarm, SETTLE_RUNS, WARM } from './harness.js'
import type { ColdWarm, ContenderResult } from './harness.js'
import type { TargetCheck } from './report.js'

/** Headers matching {@link coldWarmCells}. */
export const COLD_WARM_HEADERS = ['warm (median)', 'warm runs', 'warm CPU', 'cold (median)', 'cold runs', 'cold CPU'] as const

/** Median, each run and median CPU time, warm then cold. */
export function coldWarmCells(r: ColdWarm): string[] {
  return [...resultCells(r.warm), ...resultCells(r.cold)]
}

function resultCells(r: ContenderResult): string[] {
  return [ms(r.medianMs), r.samplesMs.map((s) => int(s)).join(', '), ms(median(r.cpuMs))]
}

/** `a`'s throughput ÷ `b`'s (tasks/s), warm and cold. */
export function speedup(a: ColdWarm, b: ColdWarm): { readonly warm: number; readonly cold: number } {
  return { warm: a.warm.tasksPerSec / b.warm.tasksPerSec, cold: a.cold.tasksPerSec / b.cold.tasksPerSec }
}

/** `a`'s time ÷ `b`'s (medians), warm and cold: below 1 is faster. */
export function slowdown(a: ColdWarm, b: ColdWarm): { readonly warm: number; readonly cold: number } {
  return { warm: a.warm.medianMs / b.warm.medianMs, cold: a.cold.medianMs / b.cold.medianMs }
}

/** `2.10× warm, 1.40× cold`. */
export function bothWays(ratio: { readonly warm: number; readonly cold: number }): string {
  return `${times(ratio.warm)} warm, ${times(ratio.cold)} cold`
}

/** Peak RSS of one run: the median over the cold children (each ran the workload once). */
export function oneRunPeakKiB(r: ColdWarm): number {
  return median(r.coldChildren.map((c) => c.maxRssKiB))
}

/** RSS after imports, before any work: the median over the cold children. */
export function baseRssKiB(r: ColdWarm): number {
  return median(r.coldChildren.map((c) => c.baseRssKiB))
}

/** How the cold and warm figures were taken, for a benchmark's workload line. */
export function method(rounds: number): string {
  return `Warm: median of ${rounds} timed runs, each in a fresh child process after ${WARM.warmups} untimed runs, a collection and ${SETTLE_RUNS} more untimed runs. Cold: median of ${rounds} fresh child processes, each timing its first run. Contenders take turns.`
}

/** taskweave against p-queue, both measured cold and warm in one benchmark. */
export interface PeerPair {
  readonly taskweave: ColdWarm
  readonly peer: ColdWarm
  /** taskweave's throughput ÷ the peer's. */
  readonly ratio: { readonly warm: number; readonly cold: number }
  /** Every contender measured, by name. */
  readonly all: Readonly<Record<string, ColdWarm>>
}

/** Measures the contenders `taskweave` and `p-queue` of a bench file cold and warm, in turns. */
export async function measurePair(moduleUrl: string, rounds: number): Promise<PeerPair> {
  const all = await measureColdWarm(moduleUrl, ['taskweave', 'p-queue'], { rounds })
  const taskweave = all['taskweave'] as ColdWarm
  const peer = all['p-queue'] as ColdWarm
  return { taskweave, peer, ratio: speedup(taskweave, peer), all }
}

/** The two targets of a ratio that must be at least `goal`, warm and cold. */
export function atLeastBothWays(what: string, ratio: { readonly warm: number; readonly cold: number }, goal: number): TargetCheck[] {
  return (['warm', 'cold'] as const).map((mode) => ({ what: `${what}, ${mode}`, target: `≥ ${goal}×`, measured: times(ratio[mode]), pass: ratio[mode] >= goal }))
}
