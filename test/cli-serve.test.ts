import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { collect, ensureBuilt, root, spawnBin } from './cli-bin.js'
import { send } from './server/http-client.js'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

beforeAll(ensureBuilt, 120_000)

/** Starts `taskweave serve` and resolves once it says where it listens. */
function serve(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcessWithoutNullStreams; port: number; said: () => string }> {
  const child = spawnBin(['serve', '--port', '0', ...args], { env })
  let said = ''
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString()
      const match = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(said)
      if (match !== null) resolve({ child, port: Number(match[1]), said: () => said })
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${said}`)))
  })
}

describe('taskweave serve', () => {
  it('makes a token file readable by its owner only, serves runs that survive a stop, and resumes them with --resume', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-serve-'))
    const tokenFile = join(dir, 'secret', 'token')
    const store = `sqlite:${join(dir, 'runs.db')}`
    const tools = join(root, 'test/fixtures/slow-tools.ts')
    const first = await serve(['--store', store, '--token-file', tokenFile, '--tools', tools])
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    const token = (await readFile(tokenFile, 'utf8')).trim()
    expect(token.length).toBeGreaterThanOrEqual(40)
    expect(first.said()).not.toContain(token)
    const auth = { authorization: `Bearer ${token}` }
    expect((await send(first.port, '/api/runs')).status).toBe(401)
    const started = await send(first.port, '/api/runs', { method: 'POST', headers: auth, body: { workflow: { id: 'w', tasks: [{ id: 'slow', tool: 'slow.wait', input: { ms: 1500 } }, { id: 'after', tool: 'slow.wait', input: { ms: 1 }, dependsOn: ['slow'] }] } } })
    expect(started.status).toBe(201)
    const { id } = started.json as { id: string }
    first.child.kill('SIGTERM')
    const stopped = await collect(first.child, 20_000)
    expect(stopped.code, stopped.stderr).toBe(0)

    // The same token file is read again; the suspended run goes on and finishes.
    const second = await serve(['--store', store, '--token-file', tokenFile, '--tools', tools, '--resume'])
    await expect.poll(() => second.said(), { timeout: 10_000 }).toContain(`resumed 1 unfinished run: ${id}`)
    for (;;) {
      const run = (await send(second.port, `/api/runs/${id}`, { headers: auth })).json as { status: string; tasks: Array<{ id: string; status: string }> }
      if (run.status !== 'running') {
        expect(run.status).toBe('succeeded')
        expect(run.tasks.map((task) => task.status)).toEqual(['succeeded', 'succeeded'])
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    second.child.kill('SIGTERM')
    expect((await collect(second.child, 20_000)).code).toBe(0)
  }, 60_000)

  it('takes TASKWEAVE_TOKEN, refuses --token on the command line, and an open API beyond loopback', async () => {
    const fromEnv = await serve(['--store', 'memory'], { TASKWEAVE_TOKEN: 'env-token-0123456789abcdef' })
    expect((await send(fromEnv.port, '/api/runs', { headers: { authorization: 'Bearer env-token-0123456789abcdef' } })).status).toBe(200)
    fromEnv.child.kill('SIGTERM')
    // A memory store keeps nothing to resume: the stop does not promise it.
    const stoppedMemory = await collect(fromEnv.child, 20_000)
    expect(stoppedMemory.stderr).toContain('stopping: running runs end with the server (a memory store keeps nothing to resume)')
    expect(stoppedMemory.stderr).not.toContain('stay resumable')

    const argv = await collect(spawnBin(['serve', '--token', 'env-token-0123456789abcdef']), 20_000)
    expect(argv.code).toBe(2)
    expect(argv.stderr).toMatch(/--token is refused.*TASKWEAVE_TOKEN/s)
    expect(argv.stderr).not.toContain('env-token-0123456789abcdef')
    const open = await collect(spawnBin(['serve', '--host', '0.0.0.0', '--no-auth', '--port', '0']), 20_000)
    expect(open.code).toBe(2)
    expect(open.stderr).toMatch(/loopback/)
  }, 60_000)

  it('refuses a token file other users can read, and shares one token between servers started at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-serve-'))
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, 'shared-token-0123456789abcdef\n', { mode: 0o644 })
    const refused = await collect(spawnBin(['serve', '--port', '0', '--store', 'memory', '--token-file', tokenFile]), 20_000)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`${tokenFile} can be read by other users of this machine (chmod 600 ${tokenFile})`)
    expect(refused.stderr).not.toContain('shared-token')

    const { serveToken } = await import('../src/cli/serve-token.js')
    const fresh = join(dir, 'fresh', 'token')
    const tokens = await Promise.all(Array.from({ length: 8 }, () => serveToken(fresh, {})))
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1)
    expect(tokens.filter((t) => t.source.endsWith('(new)'))).toHaveLength(1)
    expect((await readFile(fresh, 'utf8')).trim()).toBe(tokens[0]?.token)
  }, 60_000)

  it('RT-03: a cancel answered 202 is in the store: a server killed (SIGKILL) right after the answer resumes the run as cancelled, starting nothing new', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-serve-'))
    const store = `sqlite:${join(dir, 'runs.db')}`
    const ledger = join(dir, 'ledger.txt')
    await writeFile(ledger, '')
    const env = { TASKWEAVE_TOKEN: 'cancel-token-0123456789abcdef', LEDGER: ledger }
    const auth = { authorization: `Bearer ${env.TASKWEAVE_TOKEN}` }
    const tools = join(root, 'test/fixtures/ledger-tools.ts')
    const started = async (): Promise<string[]> => (await readFile(ledger, 'utf8')).split('\n').filter((line) => line !== '')
    const first = await serve(['--store', store, '--tools', tools], env)
    // 50 tasks running (each holds until aborted), 500 waiting for a slot.
    const tasks = Array.from({ length: 550 }, (_, k) => ({ id: `t${k}`, tool: 'ledger.hold' }))
    const made = await send(first.port, '/api/runs', { method: 'POST', headers: auth, body: { workflow: { id: 'wide', tasks }, concurrency: 50 } })
    expect(made.status).toBe(201)
    const { id } = made.json as { id: string }
    await expect.poll(async () => (await started()).length, { timeout: 20_000 }).toBe(50)
    const cancel = await send(first.port, `/api/runs/${id}/cancel`, { method: 'POST', headers: auth, body: { reason: 'operator says stop' } })
    first.child.kill('SIGKILL')
    expect(cancel.status).toBe(202)
    expect(cancel.json).toEqual({ id, status: 'cancelling', saved: true })
    await collect(first.child, 20_000)

    const resumedAt = Date.now()
    const second = await serve(['--store', store, '--tools', tools, '--resume'], env)
    let run: { status: string; reason?: string; tasks: { id: string; status: string }[] }
    for (const deadline = Date.now() + 30_000; ; ) {
      run = (await send(second.port, `/api/runs/${id}`, { headers: auth })).json as typeof run
      if (run.status !== 'running') break
      if (Date.now() > deadline) throw new Error(`run ${id} still running 30 s after the resume`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const quiesceMs = Date.now() - resumedAt
    process.stdout.write(`${JSON.stringify({ case: 'RT-03', startedBeforeKill: 50, startedAfterCancel: (await started()).length - 50, quiesceMs })}\n`)
    expect(run.status).toBe('cancelled')
    const counts: Record<string, number> = {}
    for (const task of run.tasks) counts[task.status] = (counts[task.status] ?? 0) + 1
    // The 50 that ran were cancelled; the 500 behind them never started.
    expect(counts).toEqual({ cancelled: 50, 'not-run': 500 })
    expect(run.reason).toContain('operator says stop')
    // Nothing started after the cancel: not in the killed process, not in the resumed one.
    expect(await started()).toHaveLength(50)
    second.child.kill('SIGTERM')
    expect((await collect(second.child, 20_000)).code).toBe(0)
  }, 90_000)

  it('refuses a second server on the same SQLite file (the store holds it), and a killed server\'s file serves again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-serve-'))
    const store = `sqlite:${join(dir, 'runs.db')}`
    const env = { TASKWEAVE_TOKEN: 'lock-token-0123456789abcdef' }
    const first = await serve(['--store', store], env)
    const second = await collect(spawnBin(['serve', '--port', '0', '--store', store], { env }), 20_000)
    expect(second.code).toBe(3)
    expect(second.stderr).toMatch(/another process holds the file/)
    first.child.kill('SIGKILL')
    await collect(first.child, 20_000)
    const third = await serve(['--store', store], env)
    expect((await send(third.port, '/api/runs', { headers: { authorization: `Bearer ${env.TASKWEAVE_TOKEN}` } })).status).toBe(200)
    third.child.kill('SIGTERM')
    expect((await collect(third.child, 20_000)).code).toBe(0)
  }, 60_000)
})
