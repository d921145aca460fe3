/**
 * Runs every benchmark (noop, layered, fanout, sleep, stg, executor, many-runs, report, startup,
 * background, durable, llm, distributed, http) one after the other, prints a summary and writes `bench/RESULTS.md`. `npm run bench` from the repo root installs the peers first and then
 * runs this file. A benchmark that errors is reported as ERROR and the others still run; the exit
 * code is then 1. A missed target is a result, not an error.
 * @module
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { markdownTable } from './lib/format.js'
import { renderReport } from './lib/report.js'
import type { BenchModule, BenchReport } from './lib/report.js'

const BENCHMARKS = ['noop', 'layered', 'fanout', 'sleep', 'stg', 'executor', 'many-runs', 'report', 'startup', 'background', 'durable', 'llm', 'distributed', 'http'] as const
const RESULTS_FILE = fileURLToPath(new URL('./RESULTS.md', import.meta.url))

interface Failure {
  readonly name: string
  readonly error: string
}

function versionOf(pkg: string): string {
  try {
    const file = fileURLToPath(new URL(`./node_modules/${pkg}/package.json`, import.meta.url))
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== ''
    return `${rev}${dirty ? ' (src/ has uncommitted changes)' : ''}`
  } catch {
    return 'no commit yet (working tree)'
  }
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
}

async function main(): Promise<void> {
  const started = performance.now()
  const startedAt = new Date()
  const loadBefore = loadAverage()
  const reports: BenchReport[] = []
  const failures: Failure[] = []
  for (const name of BENCHMARKS) {
    console.log(`\n▶ ${name} …`)
    try {
      const mod = (await import(`./${name}.ts`)) as BenchModule
      const loadAtStart = os.loadavg()[0] ?? 0
      const measured = await mod.run()
      const loadAtEnd = os.loadavg()[0] ?? 0
      const report = { ...measured, notes: [...measured.notes, `1-minute load average at the start of this benchmark: ${loadAtStart.toFixed(2)}; at its end: ${loadAtEnd.toFixed(2)} (${os.cpus().length} CPUs).`] }
      reports.push(report)
      console.log(renderReport(report))
    } catch (err) {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
      failures.push({ name, error })
      console.error(`✖ ${name} failed:\n${error}`)
    }
  }
  const loadAfter = loadAverage()
  const totalSeconds = (performance.now() - started) / 1000

  const summaryRows: string[][] = []
  for (const report of reports) for (const t of report.targets) summaryRows.push([report.name, t.what, t.target, t.measured, t.pass ? 'PASS' : 'MISS'])
  for (const f of failures) summaryRows.push([f.name, '(benchmark failed to run)', '—', '—', 'ERROR'])
  const summary = markdownTable(['benchmark', 'target', 'goal', 'measured', 'result'], summaryRows)
  const passed = summaryRows.filter((r) => r[4] === 'PASS').length

  const cpus = os.cpus()
  const lines = [
    '# taskweave benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run-all.ts). Do not edit by hand; see bench/README.md for what each benchmark measures.`,
    '',
    `- Date: ${startedAt.toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node ${process.version}; taskweave from \`dist/lib/\` (the bundled build of git ${gitRevision()})`,
    `- Peers: p-queue ${versionOf('p-queue')}, p-limit ${versionOf('p-limit')}, @langchain/langgraph ${versionOf('@langchain/langgraph')}, @langchain/core ${versionOf('@langchain/core')}, @langchain/langgraph-checkpoint-sqlite ${versionOf('@langchain/langgraph-checkpoint-sqlite')}, @langchain/langgraph-checkpoint-postgres ${versionOf('@langchain/langgraph-checkpoint-postgres')}, @dbos-inc/dbos-sdk ${versionOf('@dbos-inc/dbos-sdk')}, bottleneck ${versionOf('bottleneck')}`,
    `- Load average (1 / 5 / 15 min) before: ${loadBefore}; after: ${loadAfter}. Other processes on this 2-core machine add noise to the wall-clock figures (not to the stg figures, which use a virtual clock).`,
    `- Total wall time: ${totalSeconds.toFixed(0)} s`,
    '',
    '## Summary',
    '',
    `${passed} of ${summaryRows.length} targets met. Ratios compare contenders measured in this same run, each in its own child process, with the same concurrency and the same work per task.`,
    '',
    summary,
    '',
    ...reports.map(renderReport),
    ...failures.map((f) => `## ${f.name} — ERROR\n\n\`\`\`\n${f.error}\n\`\`\`\n`),
  ]
  writeFileSync(RESULTS_FILE, `${lines.join('\n').trimEnd()}\n`)
  console.log(`\n${summary}\n\n${passed} of ${summaryRows.length} targets met; wrote ${RESULTS_FILE} (${totalSeconds.toFixed(0)} s).`)
  if (failures.length > 0) process.exitCode = 1
}

await main()
