/**
 * Benchmark `startup`: what a CLI user waits for. `taskweave validate` of a 3-task file against
 * `node -e 0` (bare Node), each a freshly spawned process, taking turns; the median of each. For
 * information, also a process that only imports the package (`dist/index.js`). Every process here
 * is cold by construction; the first round is dropped so that every contender reads its files from
 * the page cache. Run alone with `node --import tsx bench/startup.ts`.
 * @module
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isMain } from './lib/harness.js'
import { median, ms, times } from './lib/format.js'
import { renderReport } from './lib/report.js'
import type { BenchReport } from './lib/report.js'

/** Processes per contender (after one untimed round). */
const SPAWNS = 21
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const FIXTURE = 'bench/fixtures/three-tasks.yaml'

/** The commands compared: name → node arguments. */
const COMMANDS: Readonly<Record<string, readonly string[]>> = {
  'taskweave validate (3 tasks)': ['bin/taskweave.js', 'validate', FIXTURE],
  'node -e 0': ['-e', '0'],
  'import taskweave only': ['--input-type=module', '-e', "await import('./dist/lib/index.js')"],
}

/** Spawns `node …args` from the repo root; resolves with its wall time in ms (from spawn to exit). */
function timeProcess(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const elapsed = performance.now() - t0
      if (code === 0) resolve(elapsed)
      else reject(new Error(`node ${args.join(' ')} exited with ${String(code)}: ${stderr.slice(0, 500)}`))
    })
  })
}

/** Runs every command in turn and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const names = Object.keys(COMMANDS)
  const samples = new Map<string, number[]>(names.map((n) => [n, []]))
  for (let round = 0; round <= SPAWNS; round++) {
    for (const name of names) {
      const elapsed = await timeProcess(COMMANDS[name] ?? [])
      if (round > 0) samples.get(name)?.push(elapsed)
    }
  }
  const medianOf = (name: string): number => median(samples.get(name) ?? [])
  const bare = medianOf('node -e 0')
  const validate = medianOf('taskweave validate (3 tasks)')
  const rows = names.map((name) => {
    const all = [...(samples.get(name) ?? [])].sort((a, b) => a - b)
    return [name, ms(medianOf(name)), `${ms(all[0] ?? 0)} – ${ms(all[all.length - 1] ?? 0)}`, times(medianOf(name) / bare)]
  })
  return {
    name: 'startup',
    title: 'startup — `taskweave validate` of a 3-task file against bare Node',
    workload: `Each command is a fresh \`node\` process spawned from the repo root; the commands take turns, ${SPAWNS} timed processes each after one untimed round; time from spawn to exit, median.`,
    headers: ['command', 'median', 'range', '÷ node -e 0'],
    rows,
    targets: [{ what: '`taskweave validate` (3 tasks) ÷ `node -e 0`', target: '≤ 2×', measured: times(validate / bare), pass: validate <= 2 * bare }],
    notes: [
      `\`${FIXTURE}\`: three \`fs.*\` tasks with static inputs and dependencies; \`validate\` loads the CLI, reads and parses the file, checks it against the schema and compiles it (tools looked up, inputs checked).`,
      '"import taskweave only" is `node --input-type=module -e "await import(\'./dist/lib/index.js\')"`: what importing the package costs before any work (not a target).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

if (isMain(import.meta.url)) console.log(renderReport(await run()))
