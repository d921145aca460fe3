/**
 * The entry of a benchmark file run directly: with a contender name it is a child (measures that
 * contender and prints its JSON line), without one it runs the whole benchmark and prints its report.
 * @module
 */
import { childMain, isMain } from './harness.js'
import type { ContenderSpec } from './harness.js'
import { renderReport } from './report.js'
import type { BenchReport } from './report.js'

/** Runs the benchmark at `moduleUrl` when it is the script node was started with; otherwise does nothing. */
export async function benchMain(moduleUrl: string, contenders: Readonly<Record<string, ContenderSpec>>, run: () => Promise<BenchReport>): Promise<void> {
  if (!isMain(moduleUrl)) return
  if (process.argv[2] !== undefined) await childMain(contenders)
  else console.log(renderReport(await run()))
}
