import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine } from '../../src/engine/engine.js'
import type { TaskweaveEvent } from '../../src/observe/events.js'
import { connectMcpServer } from '../../src/tools/mcp/index.js'
import type { McpTools } from '../../src/tools/mcp/index.js'

const SERVER = fileURLToPath(new URL('./fixture-server.mjs', import.meta.url))
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A log file the fixture server appends what it heard to. */
function logFile(): { readonly path: string; read(): Array<{ pid: number; event: string; reason?: string }> } {
  const dir = mkdtempSync(join(tmpdir(), 'tw-mcp-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'log.jsonl')
  return {
    path,
    read: () => {
      try {
        return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { pid: number; event: string })
      } catch {
        return []
      }
    },
  }
}

async function stdioServer(log?: string): Promise<McpTools> {
  const mcp = await connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', ...(log !== undefined ? { env: { MCP_LOG: log } } : {}) })
  cleanups.push(() => mcp.close())
  return mcp
}

/** Whether process `pid` runs (a zombie, ended but not yet reaped by a parent that is gone, does not). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

describe('the tools of an MCP server over stdio', () => {
  it('become taskweave tools with their names, schemas and hints, and run in a workflow', async () => {
    const mcp = await stdioServer()
    expect(mcp.server).toEqual({ name: 'fixture tools', version: '1.2.3' })
    expect(mcp.tools.map((tool) => tool.name).sort()).toEqual(['add', 'crash', 'echo', 'fail', 'image', 'note', 'pay', 'sleep', 'slow', 'whoami'].map((name) => `mcp.fixture-tools.${name}`))
    expect(mcp.skipped).toEqual([])
    const byName = new Map(mcp.tools.map((tool) => [tool.name.slice('mcp.fixture-tools.'.length), tool]))
    // MCP's hints: read-only or idempotent tools may run twice; without hints, or idempotentHint false, not.
    expect([byName.get('add')?.description, byName.get('add')?.idempotent, byName.get('pay')?.idempotent, byName.get('note')?.idempotent, byName.get('echo')?.idempotent]).toEqual(['Adds two numbers.', true, false, false, false])

    await using engine = createEngine({ builtins: false, tools: mcp.tools })
    const result = await engine.run({
      id: 'mcp',
      tasks: [
        { id: 'sum', tool: 'mcp.fixture-tools.add', input: { a: 2, b: 3 } },
        { id: 'say', tool: 'mcp.fixture-tools.echo', dependsOn: ['sum'], input: { text: 'sum is {{ tasks.sum.output.sum }}' } },
        { id: 'picture', tool: 'mcp.fixture-tools.image' },
        { id: 'broken', tool: 'mcp.fixture-tools.fail' },
      ],
    })
    expect(result.tasks['sum']?.output).toEqual({ sum: 5 })
    expect(result.tasks['say']?.output).toBe('echo: sum is 5\ndone')
    expect(result.tasks['picture']?.output).toEqual([{ type: 'image', data: 'aGk=', mimeType: 'image/png' }])
    expect(result.tasks['broken']?.status).toBe('failed')
    expect(result.tasks['broken']?.error).toMatchObject({ code: 'TW_TOOL_FAILED', message: expect.stringContaining('the upstream API said no') as unknown })
  })

  it('checks a task\'s input against the tool\'s JSON Schema before anything is sent', async () => {
    const mcp = await stdioServer()
    const engine = createEngine({ builtins: false, tools: mcp.tools })
    cleanups.push(() => engine.close())
    expect(() => engine.compile({ id: 'bad', tasks: [{ id: 'sum', tool: 'mcp.fixture-tools.add', input: { a: 2, b: -1 } }] })).toThrow(/tasks\[0\]\.input\.b|input\.b/)
  })

  it('cancels the call on the server when the task times out, and reports its progress on the way', async () => {
    const log = logFile()
    const mcp = await stdioServer(log.path)
    await using engine = createEngine({ builtins: false, tools: mcp.tools })
    const progress: TaskweaveEvent[] = []
    engine.events.on('task:progress', (event) => void progress.push(event))
    const result = await engine.run({ id: 'slow', tasks: [{ id: 'nap', tool: 'mcp.fixture-tools.slow', input: { steps: 200, stepMs: 20 }, timeout: '500ms' }] })
    expect(result.tasks['nap']?.error?.code).toBe('TW_TIMEOUT')
    expect(progress.length).toBeGreaterThan(0)
    expect(progress[0]).toMatchObject({ progress: { fraction: 1 / 200, message: 'step 1 of 200', data: { progress: 1, total: 200 } } })
    await expect.poll(() => log.read().some((entry) => entry.event === 'cancelled')).toBe(true)
  })

  it('connects again after the server process died, and ends it on close', async () => {
    const mcp = await stdioServer()
    const engine = createEngine({ builtins: false, tools: mcp.tools })
    cleanups.push(() => engine.close())
    const first = await engine.run({ id: 'who', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami' }] })
    const firstPid = (first.tasks['who']?.output as { pid: number }).pid
    const crashed = await engine.run({ id: 'crash', tasks: [{ id: 'crash', tool: 'mcp.fixture-tools.crash' }] })
    expect(crashed.tasks['crash']?.error).toMatchObject({ code: 'TW_MCP', retryable: true })
    await expect.poll(() => isAlive(firstPid)).toBe(false)
    const again = await engine.run({ id: 'who', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami' }] })
    const secondPid = (again.tasks['who']?.output as { pid: number }).pid
    expect(secondPid).not.toBe(firstPid)
    expect(isAlive(secondPid)).toBe(true)
    await mcp.close()
    await expect.poll(() => isAlive(secondPid)).toBe(false)
    const closed = await engine.run({ id: 'who', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami' }] })
    expect(closed.tasks['who']?.error).toMatchObject({ code: 'TW_MCP', message: expect.stringContaining('closed') as unknown })
  })

  it('keeps only the tools asked for, and names the ones the server does not have', async () => {
    const mcp = await connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', include: ['add', 'echo'], name: 'calc' })
    cleanups.push(() => mcp.close())
    expect(mcp.tools.map((tool) => tool.name)).toEqual(['mcp.calc.add', 'mcp.calc.echo'])
    expect(mcp.tools.every((tool) => tool.idempotent === false)).toBe(false)
    const trusted = await connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', include: ['note'], idempotent: true })
    cleanups.push(() => trusted.close())
    expect(trusted.tools[0]?.idempotent).toBe(true)
    await expect(connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', include: ['add', 'nope'] })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/include.*"nope".*lists: add, crash, echo/s) as unknown })
  })

  it('a reconnect shared by two calls is not undone when one of them gives up, and close() stops a reconnect at once', async () => {
    const slow = logFile()
    const mcp = await connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', env: { MCP_SLOW_START: `${slow.path}.ms` } })
    cleanups.push(() => mcp.close())
    const engine = createEngine({ builtins: false, tools: mcp.tools })
    cleanups.push(() => engine.close())
    await engine.run({ id: 'crash', tasks: [{ id: 'crash', tool: 'mcp.fixture-tools.crash' }] })
    // The next server takes 1.5 s to start: one caller gives up after 300 ms, the other waits.
    writeFileSync(`${slow.path}.ms`, '1500')
    const [impatient, patient] = await Promise.all([
      engine.run({ id: 'a', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami', timeout: '300ms' }] }),
      engine.run({ id: 'b', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami', timeout: '10s' }] }),
    ])
    expect(impatient.tasks['who']?.error?.code).toBe('TW_TIMEOUT')
    expect(patient.tasks['who']?.status).toBe('succeeded')

    await engine.run({ id: 'crash', tasks: [{ id: 'crash', tool: 'mcp.fixture-tools.crash' }] })
    writeFileSync(`${slow.path}.ms`, '20000')
    const waiting = engine.run({ id: 'c', tasks: [{ id: 'who', tool: 'mcp.fixture-tools.whoami' }] })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const t0 = performance.now()
    await mcp.close()
    expect(performance.now() - t0).toBeLessThan(5_000)
    expect((await waiting).tasks['who']?.error?.code).toBe('TW_MCP')
  })

  it('ends the stdio servers of a CLI run with the process, and names a server without its arguments', async () => {
    const log = logFile()
    const dir = mkdtempSync(join(tmpdir(), 'tw-mcp-cli-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const mcpModule = fileURLToPath(new URL('../../src/tools/mcp/index.ts', import.meta.url))
    writeFileSync(join(dir, 'tools.ts'), `import { connectMcpServer } from ${JSON.stringify(mcpModule)}\nconst fx = await connectMcpServer({ command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(SERVER)}, '--token=sk-SECRET'], name: 'fx', stderr: 'ignore', env: { MCP_LOG: ${JSON.stringify(log.path)} } })\nexport default fx.tools\n`)
    writeFileSync(join(dir, 'flow.yaml'), 'id: cli\ntasks:\n  - id: broken\n    tool: mcp.fx.fail\n')
    const cli = fileURLToPath(new URL('../../bin/taskweave.js', import.meta.url))
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, 'run', 'flow.yaml', '--tools', './tools.ts', '--store', 'memory', '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
      let text = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      child.on('close', (code) => resolve({ code, text }))
    })
    expect(out.code).toBe(1)
    expect(out.text).toContain('MCP tool \\"fail\\" of server \\"fx\\" (node fixture-server.mjs) reported an error: the upstream API said no')
    expect(out.text).not.toContain('sk-SECRET')
    const started = log.read().find((entry) => entry.event === 'start')
    expect(started).toBeDefined()
    await expect.poll(() => isAlive((started as { pid: number }).pid)).toBe(false)
  })

  it('refuses bad options and says why a server cannot be started', async () => {
    await expect(connectMcpServer({})).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('exactly one') as unknown })
    await expect(connectMcpServer({ command: 'x', url: 'http://127.0.0.1:1/mcp' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(connectMcpServer({ command: 'x', comand: 'y' } as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('comand') as unknown })
    await expect(connectMcpServer({ url: 'ftp://example.test/' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(connectMcpServer({ command: 'taskweave-no-such-mcp-server', stderr: 'pipe' })).rejects.toMatchObject({ code: 'TW_MCP', message: expect.stringContaining('taskweave-no-such-mcp-server') as unknown })
  })
})

describe('the tools of an MCP server over Streamable HTTP', () => {
  async function httpServer(token: string, mode = '--http'): Promise<number> {
    return (await httpChild(token, mode)).port
  }

  async function httpChild(token: string, mode: string, log?: string): Promise<{ readonly port: number; readonly child: ChildProcess }> {
    const child: ChildProcess = spawn(process.execPath, [SERVER, mode], { env: { ...process.env, MCP_TOKEN: token, ...(log !== undefined ? { MCP_LOG: log } : {}) }, stdio: ['ignore', 'pipe', 'inherit'] })
    cleanups.push(() => child.kill())
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (text: string) => {
        const port = /listening (\d+)/.exec(text)?.[1]
        if (port !== undefined) resolve(Number(port))
      })
      child.on('exit', (code) => reject(new Error(`the HTTP fixture exited (${String(code)})`)))
    })
    return { port, child }
  }

  it('starts a new session when the server forgot its own', async () => {
    const log = logFile()
    const { port } = await httpChild('', '--stateful', log.path)
    const mcp = await connectMcpServer({ url: `http://127.0.0.1:${port}/mcp`, name: 'stateful', timeoutMs: 20_000 })
    cleanups.push(() => mcp.close())
    const engine = createEngine({ builtins: false, tools: mcp.tools })
    cleanups.push(() => engine.close())
    const sum = { id: 'sum', tasks: [{ id: 'sum', tool: 'mcp.stateful.add', input: { a: 1, b: 1 } }] }
    expect((await engine.run(sum)).tasks['sum']?.output).toEqual({ sum: 2 })
    await fetch(`http://127.0.0.1:${port}/drop`, { method: 'POST' })
    expect((await engine.run(sum)).tasks['sum']?.output).toEqual({ sum: 2 })
    expect(log.read().filter((entry) => entry.event === 'session')).toHaveLength(2)

  })

  it('fails the calls in flight at once (retryable) when the server dies, instead of waiting out their timeout', async () => {
    const log = logFile()
    const { port, child } = await httpChild('', '--http', log.path)
    const mcp = await connectMcpServer({ url: `http://127.0.0.1:${port}/mcp`, name: 'stateless', timeoutMs: 20_000 })
    cleanups.push(() => mcp.close())
    const engine = createEngine({ builtins: false, tools: mcp.tools })
    cleanups.push(() => engine.close())
    const napping = engine.run({ id: 'nap', tasks: Array.from({ length: 5 }, (_, i) => ({ id: `nap${i}`, tool: 'mcp.stateless.sleep', input: { ms: 10_000 } })) })
    await expect.poll(() => log.read().filter((entry) => entry.event === 'sleep-start').length).toBe(5)
    const t0 = performance.now()
    child.kill('SIGKILL')
    const result = await napping
    for (let i = 0; i < 5; i++) expect(result.tasks[`nap${i}`]?.error).toMatchObject({ code: 'TW_MCP', retryable: true })
    // Well under the 20 s a call would otherwise wait for an answer that cannot come.
    expect(performance.now() - t0).toBeLessThan(3_000)
  })

  it('runs with the headers given, and is refused without them', async () => {
    const port = await httpServer('sesame')
    const url = `http://127.0.0.1:${port}/mcp`
    await expect(connectMcpServer({ url })).rejects.toMatchObject({ code: 'TW_MCP', message: expect.stringContaining(`http://127.0.0.1:${port}/mcp`) as unknown })
    const mcp = await connectMcpServer({ url, headers: { authorization: 'Bearer sesame' }, name: 'remote' })
    cleanups.push(() => mcp.close())
    await using engine = createEngine({ builtins: false, tools: mcp.tools })
    const result = await engine.run({ id: 'http', tasks: [{ id: 'sum', tool: 'mcp.remote.add', input: { a: 40, b: 2 } }] })
    expect(result.tasks['sum']?.output).toEqual({ sum: 42 })
  })
})
