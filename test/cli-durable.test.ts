/**
 * The durable CLI as a newcomer meets it: `taskweave run` → `kill -9` → `taskweave runs` →
 * `taskweave resume` → `taskweave show` → `taskweave prune`, in real processes on a SQLite file.
 * The project lives inside the repository, so its tool module imports `taskweave` and `zod` by
 * name, as in a user's project.
 */
import { stripVTControlCharacters } from 'node:util'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bin, ensureBuilt, root, spawnBin, collect } from './cli-bin.js'
import { removeBrokerLeftovers } from './queues/broker-kit.js'

const project = join(root, `test/.tmp-durable-${process.pid}`)
const ledger = join(project, 'ledger.txt')
const store = `sqlite:${join(project, '.taskweave/runs.db')}`

const TOOLS = `import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { defineTool } from 'taskweave'
export const step = defineTool({
  name: 'demo.step',
  input: z.object({ n: z.number() }),
  run: async ({ n }, ctx) => {
    appendFileSync(process.env.LEDGER, ctx.taskId + ' ' + ctx.attempt + '\\n')
    if (process.env.CRASH_AT === ctx.taskId) process.kill(process.pid, 'SIGKILL')
    if (process.env.FAIL_AT === ctx.taskId) throw new Error('the service behind ' + ctx.taskId + ' is down')
    if (process.env.HANG_AT === ctx.taskId) {
      process.stdout.write('hanging at ' + ctx.taskId + '\\n')
      await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    }
    return n * 2
  },
})
`

const FLOW = (extra = ''): string => `id: chain
tools: [./tools.mjs]
tasks:
  - { id: a, tool: demo.step, input: { n: 1 } }
  - { id: b, tool: demo.step, input: { n: '{{ tasks.a.output }}' } }
  - { id: c, tool: demo.step, input: { n: '{{ tasks.b.output }}' } }
  - { id: d, tool: demo.step, input: { n: '{{ tasks.c.output }}' } }
${extra}`

function ledgerLines(): string[] {
  return existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []
}

beforeAll(async () => {
  await ensureBuilt()
  mkdirSync(project, { recursive: true })
  writeFileSync(join(project, 'tools.mjs'), TOOLS)
}, 120_000)

afterAll(() => rmSync(project, { recursive: true, force: true }))

describe('taskweave run → kill -9 → resume (SQLite store)', () => {
  it('resumes a killed run without running finished tasks again, then shows and prunes it', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const killed = await bin(['run', 'flow.yaml', '--run-id', 'r-kill'], { cwd: project, env: { ...env, CRASH_AT: 'c' } })
    expect(killed.signal).toBe('SIGKILL')
    expect(killed.stderr).toContain('taskweave resume r-kill')
    expect(ledgerLines()).toEqual(['a 1', 'b 1', 'c 1'])

    // The command holds the SQLite file, so no process runs r-kill: stopped at once, not
    // `running` until the killed process's lease expires.
    const runs = await bin(['runs'], { cwd: project, env })
    expect(runs.code).toBe(0)
    expect(runs.stdout).toMatch(/r-kill\s+chain\s+stopped/)
    expect((await bin(['runs', '--status', 'stopped'], { cwd: project, env })).stdout).toMatch(/r-kill\s+chain\s+stopped/)
    expect((await bin(['runs', '--status', 'running'], { cwd: project, env })).stdout).not.toContain('r-kill')

    // The file changed since: the run goes on with the definition it started with, and says so.
    writeFileSync(join(project, 'flow.yaml'), FLOW('  - { id: e, tool: demo.step, input: { n: 5 } }\n'))
    const resumed = await bin(['resume', 'r-kill'], { cwd: project, env })
    expect(resumed.stderr).toMatch(/flow\.yaml has changed \(sha256 [0-9a-f]{12}… now\) since this run started; the run goes on with the definition pinned then \(sha256 [0-9a-f]{12}…\), and new runs use the file as it is/)
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toContain('run succeeded')
    // a and b ran once; c, in flight when the process died, ran again (its start had not been
    // written yet, so as attempt 1 once more, under a new attempt id); d ran; e (added to the
    // file later) did not.
    expect(ledgerLines()).toEqual(['a 1', 'b 1', 'c 1', 'c 1', 'd 1'])

    const show = await bin(['show', 'r-kill', '--json'], { cwd: project, env })
    const shown = JSON.parse(show.stdout) as { status: string; createdAt: string; finishedAt: string; tasks: Record<string, { status: string; output: unknown; attempts: number }> }
    expect(shown.status).toBe('succeeded')
    // Times as in `runs --json`: ISO text.
    const listed = JSON.parse((await bin(['runs', '--json'], { cwd: project, env })).stdout) as { runId: string; createdAt: string; finishedAt: string }[]
    expect(listed.find((run) => run.runId === 'r-kill')).toMatchObject({ createdAt: shown.createdAt, finishedAt: shown.finishedAt })
    expect(shown.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect((await bin(['runs', '--workflow', 'nope'], { cwd: project, env })).stdout.trim()).toMatch(/^no runs in .* match --workflow nope$/)
    expect(shown.tasks['d']).toMatchObject({ status: 'succeeded', output: 16 })
    expect(Object.keys(shown.tasks)).not.toContain('e')

    const again = await bin(['resume', 'r-kill'], { cwd: project, env })
    expect(again.stderr).toContain('has already finished: succeeded')

    // A new run uses the file as it is now (e runs), under the hash the resume named as the file's.
    expect((await bin(['run', 'flow.yaml', '--run-id', 'r-new', '--quiet'], { cwd: project, env })).code).toBe(0)
    expect(ledgerLines().slice(-5).sort()).toEqual(['a 1', 'b 1', 'c 1', 'd 1', 'e 1'])
    const hashOf = async (runId: string): Promise<string> => /definition sha256 ([0-9a-f]{64})/.exec((await bin(['show', runId], { cwd: project, env })).stdout)?.[1] ?? ''
    const [pinned, current] = [await hashOf('r-kill'), await hashOf('r-new')]
    expect(pinned).not.toBe(current)
    expect(resumed.stderr).toContain(`(sha256 ${current.slice(0, 12)}… now)`)
    expect(resumed.stderr).toContain(`pinned then (sha256 ${pinned.slice(0, 12)}…)`)

    const prune = await bin(['prune', '--older-than', '0s'], { cwd: project, env })
    expect(prune.stdout).toMatch(/removed 2 runs /)
    expect((await bin(['show', 'r-kill'], { cwd: project, env })).code).toBe(2)
  }, 60_000)

  it('refuses a --run-id the store holds already, before anything runs (exit 2), and says how to go on with it', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    rmSync(ledger, { force: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    expect((await bin(['run', 'flow.yaml', '--run-id', 'r-twice', '--quiet'], { cwd: project, env })).code).toBe(0)
    const ran = ledgerLines().length
    const again = await bin(['run', 'flow.yaml', '--run-id', 'r-twice'], { cwd: project, env })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('option "--run-id" must be an id no run in')
    expect(again.stderr).toContain('taskweave resume r-twice')
    expect(again.stdout + again.stderr).not.toContain('run:started')
    expect(ledgerLines().length).toBe(ran)
  })

  it('Ctrl-C leaves the run resumable and says how', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    rmSync(ledger, { force: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const child = spawnBin(['run', 'flow.yaml', '--run-id', 'r-int'], { cwd: project, env: { ...env, HANG_AT: 'b' } })
    child.stdin.end()
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('hanging at b')) child.kill('SIGINT')
    })
    const interrupted = await collect(child, 20_000)
    expect(interrupted.code).toBe(1)
    expect(interrupted.stderr).toContain('it stays resumable')
    expect(interrupted.stderr).toContain('continue it with: taskweave resume r-int')
    // Said as what happened (Ctrl-C), not as the library's "the engine closed", nor as cancelled.
    expect(interrupted.stdout + interrupted.stderr).toContain('interrupted; the run can be resumed')
    expect(interrupted.stdout + interrupted.stderr).not.toContain('the engine closed')
    expect(stripVTControlCharacters(interrupted.stdout)).toMatch(/run stopped after [\d.]+s, resumable: 1 succeeded, 3 left for the resume/)
    expect(interrupted.stdout).not.toContain('run cancelled')
    // Listed as stopped, not as running for ever.
    const listed = await bin(['runs'], { cwd: project, env })
    expect(stripVTControlCharacters(listed.stdout)).toMatch(/r-int\s+\S+\s+stopped\s/)
    expect((await bin(['show', 'r-int'], { cwd: project, env })).stdout).toContain('run r-int of chain: stopped, nobody runs it (taskweave resume r-int goes on with it)')
    const resumed = await bin(['resume', 'r-int'], { cwd: project, env })
    expect(resumed.code).toBe(0)
    expect(ledgerLines()).toEqual(['a 1', 'b 1', 'b 2', 'c 1', 'd 1'])
  }, 60_000)

  it('a run sent to workers says to resume it with its --transport, and a resume without one warns that it runs the rest here', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    rmSync(ledger, { force: true })
    const prefix = `twtest-resume-${process.pid}`
    const transport = ['--transport', 'redis://127.0.0.1:6379', '--prefix', prefix]
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const worker = spawnBin(['worker', ...transport, '--tools', 'tools.mjs', '--concurrency', '2', '--grace', '0s'], { cwd: project, env: { ...env, HANG_AT: 'b' } })
    worker.stdin.end()
    const workerDone = collect(worker, 60_000)
    try {
      const child = spawnBin(['run', 'flow.yaml', '--run-id', 'r-remote', ...transport], { cwd: project, env })
      child.stdin.end()
      worker.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('hanging at b')) child.kill('SIGINT')
      })
      const interrupted = await collect(child, 30_000)
      expect(interrupted.code).toBe(1)
      expect(interrupted.stderr).toContain(`continue it with: taskweave resume r-remote --transport redis://127.0.0.1:6379 --prefix ${prefix}`)
      const resumed = await bin(['resume', 'r-remote'], { cwd: project, env })
      expect(resumed.code).toBe(0)
      expect(resumed.stderr).toContain(`warning: run r-remote sent its tasks to workers (--transport redis://127.0.0.1:6379 --prefix ${prefix}); without --transport this resume runs the rest in this process`)
    } finally {
      worker.kill('SIGTERM')
      await workerDone
      await removeBrokerLeftovers('redis', 'redis://127.0.0.1:6379', prefix)
    }
  }, 90_000)

  it('refuses a store it does not know, naming the option', async () => {
    const bad = await bin(['runs', '--store', 'mongodb://x'], { cwd: project })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--store (or TASKWEAVE_STORE) must be memory, sqlite:PATH or postgres://')
    // A typo of sqlite:, or a URL of another database, is not taken for a file name ending in .db.
    for (const typo of ['sqlit:x.db', 'mysql://root@localhost/app.db']) {
      const refused = await bin(['runs', '--store', typo], { cwd: project })
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain(`"${typo.split(':')[0]}:" is not a store this CLI knows`)
    }
    expect(existsSync(join(project, 'sqlit:x.db'))).toBe(false)
    expect(existsSync(join(project, 'mysql:'))).toBe(false)
  })

  it('runs, show, cancel and prune on a store that does not exist say so, and create nothing', async () => {
    const missing = join(project, 'never/runs.db')
    const runs = await bin(['runs', '--store', `sqlite:${missing}`], { cwd: project })
    expect([runs.code, runs.stdout.trim()]).toEqual([0, `no runs: there is no store at ${missing} (a durable run creates it; --store or TASKWEAVE_STORE names another)`])
    const show = await bin(['show', 'r-1', '--store', `sqlite:${missing}`], { cwd: project })
    expect(show.code).toBe(2)
    expect(show.stderr).toContain(`no run "r-1": there is no store at ${missing}`)
    const cancel = await bin(['cancel', 'r-1', '--store', `sqlite:${missing}`], { cwd: project })
    expect(cancel.code).toBe(2)
    const prune = await bin(['prune', '--older-than', '1d', '--store', `sqlite:${missing}`], { cwd: project })
    expect([prune.code, prune.stdout]).toEqual([0, expect.stringContaining('nothing to prune: there is no store at')])
    expect(existsSync(join(project, 'never'))).toBe(false)
  })
})

describe('taskweave retry: a run that failed runs again from where it failed (RELIABILITY RT-06)', () => {
  it('runs the failed task and what it held back, not the finished ones, and records who retried it', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    rmSync(ledger, { force: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const failed = await bin(['run', 'flow.yaml', '--run-id', 'r-retry'], { cwd: project, env: { ...env, FAIL_AT: 'c' } })
    expect(failed.code).toBe(1)
    expect(ledgerLines()).toEqual(['a 1', 'b 1', 'c 1'])
    // resume says a finished run is retried, not resumed.
    expect((await bin(['resume', 'r-retry'], { cwd: project, env })).stderr).toContain('taskweave retry r-retry runs its failed tasks again')
    expect((await bin(['resume', 'r-retry', '--task', 'c'], { cwd: project, env })).code).toBe(2)
    expect((await bin(['retry', 'r-retry', '--task', 'a'], { cwd: project, env })).stderr).toMatch(/cannot retry "a": only a task whose last attempt failed for good is retried \(the failed ones: "c"\)/)

    const retried = await bin(['retry', 'r-retry', '--by', 'on-call'], { cwd: project, env })
    expect(retried.stderr).toContain('retrying run r-retry of chain')
    expect(retried.code).toBe(0)
    expect(retried.stdout).toContain('run succeeded')
    expect(ledgerLines()).toEqual(['a 1', 'b 1', 'c 1', 'c 2', 'd 1'])
    const shown = JSON.parse((await bin(['show', 'r-retry', '--json'], { cwd: project, env })).stdout) as { status: string; retries: { by: string; at: string; tasks: string[] }[]; tasks: Record<string, { output?: unknown }> }
    expect(shown.status).toBe('succeeded')
    expect(shown.retries).toEqual([{ by: 'on-call', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), tasks: ['c'] }])
    expect((await bin(['show', 'r-retry'], { cwd: project, env })).stdout).toMatch(/^ {2}retried by on-call at \d{4}-\d\d-\d\dT[\d:.]+Z \(c\)$/m)
    expect(shown.tasks['d']?.output).toBe(16)
    expect((await bin(['retry', 'r-retry'], { cwd: project, env })).stderr).toContain('succeeded: there is nothing to retry')
  }, 60_000)

  it('retry --failed redrives the runs that ended failed, oldest first, up to --limit; the rest stay failed for the next one', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    const dir = join(project, 'many')
    mkdirSync(dir, { recursive: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: `sqlite:${join(dir, 'runs.db')}` }
    for (const k of [1, 2, 3]) expect((await bin(['run', 'flow.yaml', '--run-id', `dead-${k}`, '--quiet'], { cwd: project, env: { ...env, FAIL_AT: 'b' } })).code).toBe(1)
    rmSync(ledger, { force: true })
    const two = await bin(['retry', '--failed', '--limit', '2', '--by', 'redrive', '--json'], { cwd: project, env })
    expect(two.code).toBe(0)
    expect(JSON.parse(two.stdout)).toEqual([
      { runId: 'dead-1', succeeded: true, exitCode: 0 },
      { runId: 'dead-2', succeeded: true, exitCode: 0 },
    ])
    // b, c and d of two runs; a never again.
    expect(ledgerLines().filter((line) => line.startsWith('a '))).toEqual([])
    expect(ledgerLines().filter((line) => line === 'b 2')).toHaveLength(2)
    const listed = JSON.parse((await bin(['runs', '--json'], { cwd: project, env })).stdout) as { runId: string; status: string }[]
    expect(Object.fromEntries(listed.map((run) => [run.runId, run.status]))).toEqual({ 'dead-1': 'succeeded', 'dead-2': 'succeeded', 'dead-3': 'partial' })
    const rest = await bin(['retry', '--failed'], { cwd: project, env })
    expect(rest.code).toBe(0)
    expect(rest.stdout).toContain('retried 1 run: 1 succeeded')
    expect((await bin(['retry', '--failed'], { cwd: project, env })).stdout).toContain('no runs ended failed or partial that match')
    expect((await bin(['retry', 'dead-1', '--failed'], { cwd: project, env })).code).toBe(2)
    expect((await bin(['retry', 'dead-1', '--limit', '3'], { cwd: project, env })).code).toBe(2)
    // Options of a server are refused where nothing asks one, not ignored.
    expect((await bin(['retry', '--failed', '--token-file', '/nope'], { cwd: project, env })).code).toBe(2)
    expect((await bin(['resume', 'dead-1', '--timeout', '5s'], { cwd: project, env })).code).toBe(2)
  }, 90_000)
})

describe('taskweave doctor: the store checked end to end (RELIABILITY ST-01, ST-02)', () => {
  it('says an intact store is intact (exit 0), and names the run whose stored value a flipped bit damaged (exit 3)', async () => {
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    const dir = join(project, 'doctor')
    mkdirSync(dir, { recursive: true })
    const db = join(dir, 'runs.db')
    const env = { LEDGER: ledger, TASKWEAVE_STORE: `sqlite:${db}` }
    expect((await bin(['doctor'], { cwd: project, env })).stdout).toContain('nothing to check')
    for (const runId of ['healthy', 'victim']) expect((await bin(['run', 'flow.yaml', '--run-id', runId, '--quiet'], { cwd: project, env })).code).toBe(0)
    const intact = await bin(['doctor'], { cwd: project, env })
    expect(intact.code).toBe(0)
    expect(intact.stdout).toContain(`sqlite store ${db}: intact`)
    expect(intact.stdout).toContain('integrity_check: ok')
    expect(intact.stdout).toMatch(/2 runs read back whole \(\d+ journal entries\): every value matches its checksum/)

    // The victim's last output (16) changes behind the store's back: the row's checksum no longer
    // matches (what a flipped bit in a value does, which SQLite's own page checks miss).
    const Database = (await import('better-sqlite3')).default
    const raw = new Database(db)
    expect(raw.prepare("UPDATE journal SET data = '17' WHERE data = '16' AND run = (SELECT key FROM runs WHERE run_id = 'victim')").run().changes).toBe(1)
    raw.close()
    const damaged = await bin(['doctor', '--json'], { cwd: project, env })
    expect(damaged.code).toBe(3)
    const report = JSON.parse(damaged.stdout) as { ok: boolean; runs: number; damaged: { runId: string; error: string }[]; integrity: string[] }
    expect(report).toMatchObject({ ok: false, runs: 2, integrity: ['ok'] })
    expect(report.damaged.map((run) => run.runId)).toEqual(['victim'])
    expect(report.damaged[0]?.error).toMatch(/run "victim": journal entry \d+ is damaged/)
    const text = await bin(['doctor'], { cwd: project, env })
    expect(text.stdout).toContain('DAMAGED')
    expect(text.stdout).toContain('restore the store from a backup')
  }, 60_000)
})

describe('taskweave with a store it cannot use', () => {
  it('a corrupt SQLite file, a file held by another process and an unreachable PostgreSQL: one clear line, exit 3, the file untouched', async () => {
    const bad = join(project, 'corrupt.db')
    const garbage = 'this is not a database '.repeat(100)
    writeFileSync(bad, garbage)
    const corrupt = await bin(['runs', '--store', `sqlite:${bad}`], { cwd: project })
    expect(corrupt.code).toBe(3)
    expect(corrupt.stderr).toContain(bad)
    expect(corrupt.stderr).toContain('restore from a backup; do not delete it')
    expect(corrupt.stderr).not.toMatch(/\n\s+at /)
    expect(readFileSync(bad, 'utf8')).toBe(garbage)

    const unreachable = await bin(['runs', '--store', 'postgres://postgres@127.0.0.1:1/none'], { cwd: project })
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toContain('postgres://postgres@127.0.0.1:1/none')

    // A run holds the file while it waits; a second command on the same file is refused at once.
    const held = join(project, 'held.db')
    writeFileSync(join(project, 'flow.yaml'), FLOW())
    const child = spawnBin(['run', 'flow.yaml', '--run-id', 'r-held'], { cwd: project, env: { LEDGER: ledger, TASKWEAVE_STORE: `sqlite:${held}`, HANG_AT: 'a' } })
    child.stdin.end()
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => void (chunk.toString().includes('hanging at a') && resolve())))
    const second = await bin(['runs', '--store', `sqlite:${held}`], { cwd: project })
    expect(second.code).toBe(3)
    expect(second.stderr).toContain(held)
    child.kill('SIGKILL')
    await collect(child, 10_000)
  }, 60_000)
})

describe('taskweave resolve: a payment whose outcome a crash made unknown (RELIABILITY CR-05, onUncertain: park)', () => {
  const PAY = `id: checkout
tools: [./tools.mjs]
tasks:
  - { id: a, tool: demo.step, input: { n: 1 } }
  - { id: c, tool: demo.step, input: { n: 2 }, dependsOn: [a], idempotent: false, onUncertain: park }
  - { id: d, tool: demo.step, input: { n: '{{ tasks.c.output }}' } }
`

  it('parks on resume (exit 5, the commands to run), shows it, records the operator\'s decision, then goes on from it', async () => {
    writeFileSync(join(project, 'pay.yaml'), PAY)
    rmSync(ledger, { force: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const killed = await bin(['run', 'pay.yaml', '--run-id', 'r-park'], { cwd: project, env: { ...env, CRASH_AT: 'c' } })
    expect(killed.signal).toBe('SIGKILL')
    expect(ledgerLines()).toEqual(['a 1', 'c 1'])

    const parked = await bin(['resume', 'r-park'], { cwd: project, env })
    expect(parked.code).toBe(5)
    expect(parked.stderr).toContain('run r-park is parked: the outcome of c is unknown')
    expect(parked.stderr).toContain('taskweave resolve r-park c --succeeded | --failed | --retry')
    // The payment did not run again, and nothing after it ran.
    expect(ledgerLines()).toEqual(['a 1', 'c 1'])

    const again = await bin(['resume', 'r-park'], { cwd: project, env })
    expect(again.code).toBe(5)
    expect(again.stderr).toMatch(/^error: run "r-park" is parked: "c" waits for an operator/)
    expect(again.stderr).not.toMatch(/\n\s+at /)

    const show = await bin(['show', 'r-park'], { cwd: project, env })
    expect(show.stdout).toMatch(/parked\s+c \(1 attempt\): task "c" started 1 time\(s\) without a recorded outcome/)
    expect(show.stdout).toContain('taskweave resolve r-park c --succeeded | --failed | --retry')

    const badJson = await bin(['resolve', 'r-park', 'c', '--succeeded', '--output', 'ch_1'], { cwd: project, env })
    expect(badJson.code).toBe(2)
    expect(badJson.stderr).toContain('--output is not JSON')
    const twoOutcomes = await bin(['resolve', 'r-park', 'c', '--failed', '--retry'], { cwd: project, env })
    expect(twoOutcomes.code).toBe(2)
    expect(twoOutcomes.stderr).toContain('needs exactly one of --succeeded, --failed, --retry; received --failed and --retry')
    const notParked = await bin(['resolve', 'r-park', 'a', '--retry'], { cwd: project, env })
    expect(notParked.code).toBe(1)
    expect(notParked.stderr.trim()).toBe('error: task "a" of run "r-park" is not waiting for a decision (parked: "c")')

    const resolved = await bin(['resolve', 'r-park', 'c', '--succeeded', '--output', '21'], { cwd: project, env })
    expect(resolved.stderr).toBe('')
    expect(resolved.code).toBe(0)
    expect(resolved.stdout).toContain('recorded: task c of run r-park, attempt 1, succeeded; continue the run with: taskweave resume r-park')

    const finished = await bin(['resume', 'r-park', '--json'], { cwd: project, env })
    expect(finished.code).toBe(0)
    const result = JSON.parse(finished.stdout) as { status: string; tasks: Record<string, { output: unknown }> }
    expect(result.status).toBe('succeeded')
    expect(result.tasks['c']?.output).toBe(21)
    expect(result.tasks['d']?.output).toBe(42)
    expect(ledgerLines()).toEqual(['a 1', 'c 1', 'd 1'])
  }, 60_000)

  it('taskweave cancel ends a run nobody wants resumed, running nothing; resume then says it has finished', async () => {
    writeFileSync(join(project, 'pay.yaml'), PAY)
    rmSync(ledger, { force: true })
    const env = { LEDGER: ledger, TASKWEAVE_STORE: store }
    const killed = await bin(['run', 'pay.yaml', '--run-id', 'r-drop'], { cwd: project, env: { ...env, CRASH_AT: 'c' } })
    expect(killed.signal).toBe('SIGKILL')
    const cancelled = await bin(['cancel', 'r-drop', '--reason', 'order withdrawn'], { cwd: project, env })
    expect(cancelled.stderr).toBe('')
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout.trim()).toBe('cancelled run r-drop: 1 succeeded, 1 cancelled')
    expect(ledgerLines()).toEqual(['a 1', 'c 1'])
    const runs = await bin(['runs'], { cwd: project, env })
    expect(runs.stdout).toMatch(/r-drop\s+checkout\s+cancelled/)
    const show = await bin(['show', 'r-drop'], { cwd: project, env })
    expect(show.stdout).toContain('stopped: order withdrawn')
    expect(show.stdout).toMatch(/cancelled\s+c \(1 attempt\)/)
    const resumed = await bin(['resume', 'r-drop'], { cwd: project, env })
    expect(resumed.stderr).toContain('run r-drop has already finished: cancelled')
    const again = await bin(['cancel', 'r-drop'], { cwd: project, env })
    expect(again.code).toBe(1)
    expect(again.stderr.trim()).toBe('error: run "r-drop" has finished (cancelled): there is nothing to cancel')
  }, 60_000)
})
