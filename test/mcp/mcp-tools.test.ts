import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('the tools of an MCP server over stdio', () => {
  it('become taskweave tools with their names, schemas and hints, and run in a workflow', async () => {
    const mcp = await stdioServer()
    expect(mcp.server).toEqual({ name: 'fixture tools', version: '1.2.3' })
    expect(mcp.tools.map((tool) => tool.name).sort()).toEqual(['add', 'crash', 'echo', 'fail', 'image', 'pay', 'slow', 'whoami'].map((name) => `mcp.fixture-tools.${name}`))
    expect(mcp.skipped).toEqual([])
    const byName = new Map(mcp.tools.map((tool) => [tool.name.slice('mcp.fixture-tools.'.length), tool]))
    expect([byName.get('add')?.description, byName.get('add')?.idempotent, byName.get('pay')?.idempotent, byName.get('echo')?.idempotent]).toEqual(['Adds two numbers.', true, false, true])

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
    await expect(connectMcpServer({ command: process.execPath, args: [SERVER], stderr: 'pipe', include: ['add', 'nope'] })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/include.*"nope".*lists: add, crash, echo/s) as unknown })
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
  async function httpServer(token: string): Promise<number> {
    const child: ChildProcess = spawn(process.execPath, [SERVER, '--http'], { env: { ...process.env, MCP_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] })
    cleanups.push(() => child.kill())
    return new Promise((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (text: string) => {
        const port = /listening (\d+)/.exec(text)?.[1]
        if (port !== undefined) resolve(Number(port))
      })
      child.on('exit', (code) => reject(new Error(`the HTTP fixture exited (${String(code)})`)))
    })
  }

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
