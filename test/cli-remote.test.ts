/**
 * `taskweave run|runs|show|cancel|retry --server URL` against a real `startServer` (RELIABILITY API-06):
 * runs started and followed over HTTP, the token only from the environment or a file, an
 * unreachable, silent or foreign server failing within the timeout with exit 6, and Ctrl-C
 * detaching (the run goes on) unless `--cancel-on-exit`.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { Socket } from 'node:net'
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { main } from '../src/cli/main.js'
import { defineTool } from '../src/core/tool.js'
import { createEngine } from '../src/engine/engine.js'
import type { Engine } from '../src/engine/engine.js'
import { startServer } from '../src/server/server.js'
import type { TaskweaveServer } from '../src/server/server.js'
import type { ApiRun } from '../src/server/views.js'
import { MemoryRunStore } from '../src/stores/memory.js'
import { collect, ensureBuilt, spawnBin } from './cli-bin.js'
import { captureIo } from './cli-io.js'
import { droppingProxy } from './server/http-client.js'

/** What the CLI printed, without colours (CI=true turns picocolors on). */
const plain = (lines: readonly string[]): string => stripVTControlCharacters(lines.join('\n'))

const TOKEN = 'cli-remote-token-0123456789'

beforeAll(ensureBuilt, 120_000)

/** Tools of the server: `t.echo` returns its value; `t.fail` fails; `t.gate` waits for the test. */
function serverTools() {
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const tools = [
    defineTool({ name: 't.echo', input: z.object({ value: z.unknown() }), run: (input) => input.value }),
    defineTool({ name: 't.fail', input: z.object({}), run: () => Promise.reject(new Error('told to fail')) }),
    defineTool({
      name: 't.gate',
      input: z.object({}),
      run: (_input, ctx) =>
        new Promise<string>((resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })
          void gate.then(() => resolve('opened'))
        }),
    }),
  ]
  return { tools, open }
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  vi.unstubAllEnvs()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(options: { engine?: Engine; port?: number } = {}): Promise<{ server: TaskweaveServer; engine: Engine; open: () => void; url: string }> {
  const { tools, open } = serverTools()
  const engine = options.engine ?? createEngine({ builtins: false, tools })
  const server = await startServer({ engine, token: TOKEN, port: options.port ?? 0 })
  cleanups.push(() => engine.close(), () => server.close())
  return { server, engine, open, url: server.url }
}

async function workflowFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-cli-remote-'))
  const file = join(dir, 'flow.yaml')
  await writeFile(file, text)
  return file
}

const DIAMOND = `id: diamond
tasks:
  - { id: a, tool: t.echo, input: { value: 1 } }
  - { id: b, tool: t.echo, dependsOn: [a], input: { value: "from b" } }
  - { id: c, tool: t.echo, dependsOn: [a], input: { value: "{{ inputs.who }}" } }
  - { id: d, tool: t.echo, dependsOn: [b, c], input: { value: { done: true } } }
inputs:
  who: { type: string }
`

const GATED = `id: gated
tasks:
  - { id: wait, tool: t.gate }
`

/** Reads a run from the server directly (not through the CLI under test). */
async function apiRun(url: string, id: string): Promise<ApiRun> {
  const response = await fetch(`${url}/api/runs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return (await response.json()) as ApiRun
}

describe('taskweave run --server', () => {
  it('starts the run on the server, follows it to its end and prints its summary with the last outputs', async () => {
    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    const code = await main(['run', await workflowFile(DIAMOND), '--server', url, '--input', 'who=me'], io)
    expect(code, io.text()).toBe(0)
    const out = plain(io.out)
    // The compact log's start and end lines, then the summary and the leaf's output.
    expect(out).toMatch(/run:started diamond \(4 tasks/)
    expect(out).toMatch(/run:finished succeeded/)
    expect(out).toMatch(/run succeeded in \d+\.\d\ds: 4 succeeded/)
    expect(out).toContain('"done": true')
    expect(io.err.join('\n')).toMatch(/^run \S+ on http:\/\/127\.0\.0\.1:\d+ \(Ctrl-C detaches; the run goes on\)/)
  })

  it('prints the outputs a local run prints: a fan-out\'s gathered output, not each item\'s', async () => {
    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const file = await workflowFile(`id: fan\ntasks:\n  - { id: list, tool: t.echo, input: { value: [x, y] } }\n  - { id: each, tool: t.echo, forEach: "{{ tasks.list.output }}", input: { value: "{{ item }}!" } }\n`)
    const io = captureIo()
    expect(await main(['run', file, '--server', url, '--quiet'], io)).toBe(0)
    const out = plain(io.out)
    expect(out).toMatch(/\neach:\n\[\n\s+"x!",\n\s+"y!"\n\]/)
    expect(out).not.toContain('each[0]:')
  })

  it('exits 1 for a failed task and names it; --json prints the run as the API has it', async () => {
    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const file = await workflowFile(`id: broken\ntasks:\n  - { id: a, tool: t.fail }\n  - { id: b, tool: t.echo, dependsOn: [a], input: { value: 1 } }\n`)
    const io = captureIo()
    expect(await main(['run', file, '--server', url, '--json', '--quiet'], io)).toBe(1)
    const run = JSON.parse(plain(io.out)) as ApiRun
    expect(run.status).toBe('failed')
    expect(run.tasks.map((task) => [task.id, task.status])).toEqual([['a', 'failed'], ['b', 'skipped']])
    expect(run.tasks[0]?.error?.message).toContain('told to fail')

    const text = captureIo()
    expect(await main(['run', file, '--server', url, '--quiet'], text)).toBe(1)
    expect(plain(text.out)).toMatch(/✖ a \(t\.fail, 1 attempt\): \S+ told to fail/)
  })

  it('--detach prints the id; show --follow follows it to its end; runs lists it; cancel ends another', async () => {
    const { url, open } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const started = captureIo()
    expect(await main(['run', await workflowFile(GATED), '--server', url, '--detach', '--run-id', 'detached-1'], started)).toBe(0)
    expect(started.out).toEqual(['detached-1'])
    expect(started.err.join('\n')).toContain(`taskweave show detached-1 --server ${url} --follow`)
    expect((await apiRun(url, 'detached-1')).status).toBe('running')

    const listed = captureIo()
    expect(await main(['runs', '--server', url, '--status', 'running'], listed)).toBe(0)
    expect(plain(listed.out)).toMatch(/detached-1\s+gated\s+running/)

    const followed = captureIo()
    const following = main(['show', 'detached-1', '--server', url, '--follow'], followed)
    await vi.waitFor(() => expect(plain(followed.out)).toContain('run:started'), { timeout: 5_000 }).catch(() => undefined)
    open()
    expect(await following, followed.text()).toBe(0)
    expect(plain(followed.out)).toMatch(/run succeeded/)

    const shown = captureIo()
    expect(await main(['show', 'detached-1', '--server', url], shown)).toBe(0)
    expect(plain(shown.out)).toMatch(/run detached-1 of gated: succeeded[\s\S]*succeeded\s+wait \(1 attempt\)/)

    // A second server's gate stays shut: cancel ends that run.
    const other = await serve()
    expect(await main(['run', await workflowFile(GATED), '--server', other.url, '--detach', '--run-id', 'to-cancel', '--quiet'], captureIo())).toBe(0)
    const cancelled = captureIo()
    expect(await main(['cancel', 'to-cancel', '--server', other.url, '--reason', 'not needed'], cancelled)).toBe(0)
    expect(plain(cancelled.out)).toContain('is being cancelled')
    await vi.waitFor(async () => expect((await apiRun(other.url, 'to-cancel')).status).toBe('cancelled'))
  })

  it('refuses bad input with exit 2 before or as the server answers, naming the problem', async () => {
    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const unknownTool = captureIo()
    expect(await main(['run', await workflowFile('id: w\ntasks:\n  - { id: a, tool: no.such }\n'), '--server', url], unknownTool)).toBe(2)
    expect(unknownTool.err.join('\n')).toMatch(/no\.such/)

    const badYaml = captureIo()
    expect(await main(['run', await workflowFile('id: w\ntasks: [\n'), '--server', url], badYaml)).toBe(2)
    expect(badYaml.err.join('\n')).toMatch(/flow\.yaml:3:1: /)

    // A file written for local runs (tools: names its modules) runs on the server with the
    // server's tools: the modules are not sent, and the command says so.
    const ownTools = captureIo()
    expect(await main(['run', await workflowFile('id: w\ntools: [./tools.ts]\ntasks:\n  - { id: a, tool: t.echo, input: { value: 1 } }\n'), '--server', url], ownTools)).toBe(0)
    expect(ownTools.err.join('\n')).toContain('flow.yaml names tool modules (tools:); they are not sent: the server runs its own')

    const taken = captureIo()
    expect(await main(['run', await workflowFile(DIAMOND), '--server', url, '--run-id', 'same', '--input', 'who=x', '--quiet'], captureIo())).toBe(0)
    expect(await main(['run', await workflowFile(DIAMOND), '--server', url, '--run-id', 'same', '--input', 'who=x'], taken)).toBe(2)
    expect(taken.err.join('\n')).toContain('a run "same" exists already')

    // Malformed JSON for an object input: refused by the server, naming the input (nothing runs).
    const malformed = captureIo()
    expect(await main(['run', await workflowFile('id: w\ninputs:\n  cfg: { type: object }\ntasks:\n  - { id: a, tool: t.echo, input: { value: 1 } }\n'), '--server', url, '--input', 'cfg={"a":'], malformed)).toBe(2)
    expect(malformed.err.join('\n')).toMatch(/inputs\.cfg.*must be an object; received "\{\\"a\\":"/)

    const missing = captureIo()
    expect(await main(['show', 'no-such-run', '--server', url], missing)).toBe(2)
    expect(missing.err.join('\n')).toContain('no run "no-such-run"')

    for (const [args, message] of [
      [['run', 'flow.yaml', '--server', url, '--token', 'abc'], '--token is refused'],
      [['run', 'flow.yaml', '--detach'], '--detach needs --server URL'],
      [['run', 'flow.yaml', '--server', url, '--store', 'memory'], '--store means nothing with --server'],
      [['run', 'flow.yaml', '--server', url, '--detach', '--cancel-on-exit'], 'say opposite things'],
      [['runs', '--server', 'ftp://host'], 'http:// or https://'],
      [['runs', '--server', 'http://user:pw@127.0.0.1:1'], 'must not hold a user or password'],
      [['show', 'x', '--follow'], '--follow needs --server URL'],
      [['runs', '--server', url, '--timeout', 'soon'], '--timeout'],
      [['runs', '--server', url, '--timeout', '30d'], '--timeout must be from 1 ms to 24 days'],
    ] as const) {
      const io = captureIo()
      expect(await main([...args], io), args.join(' ')).toBe(2)
      expect(io.err.join('\n'), args.join(' ')).toContain(message)
    }
  })
})

describe('a server that cannot be used: exit 6 within the timeout', () => {
  it('nothing listening: a clear error at once', async () => {
    const closed = createTcpServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise((resolve) => closed.close(resolve))
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    expect(await main(['runs', '--server', `http://127.0.0.1:${port}`], io)).toBe(6)
    expect(io.err.join('\n')).toContain(`cannot reach http://127.0.0.1:${port} (ECONNREFUSED): is taskweave serve running there?`)
  })

  it('a server that accepts and never answers: refused after --timeout, not a hang', async () => {
    const sockets: Socket[] = []
    const silent = createTcpServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`
    const io = captureIo()
    const started = performance.now()
    expect(await main(['run', await workflowFile(GATED), '--server', url, '--timeout', '300ms'], io)).toBe(6)
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(io.err.join('\n')).toContain(`${url} did not answer POST /api/runs within 300 ms (--timeout)`)
    // The client chose the run's id: the user can still look it up (the server may have made it).
    expect(io.err.join('\n')).toMatch(/the start of the run had no answer; it may have started there as run \S+ \(taskweave show \S+ --server /)
  })

  it('a start whose answer was lost is sent again with its Idempotency-Key: the CLI follows the run the first request made, and the server has one run', async () => {
    const { url, server } = await serve()
    let lost = 0
    const proxy = await droppingProxy(server.port, (method, path) => method === 'POST' && path === '/api/runs' && lost++ === 0)
    cleanups.push(() => proxy.close())
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    expect(await main(['run', await workflowFile(DIAMOND), '--server', `http://127.0.0.1:${proxy.port}`, '--input', 'who=world', '--quiet'], io)).toBe(0)
    expect(proxy.dropped).toBe(1)
    const runs = ((await (await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { runs: { id: string; status: string }[] }).runs
    expect(runs).toHaveLength(1)
    expect(runs[0]?.status).toBe('succeeded')
  })

  it('not taskweave (an HTML page), or a token it refuses', async () => {
    const html: Server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>It works!</body></html>'))
    await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => html.close(resolve)))
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const foreign = captureIo()
    expect(await main(['runs', '--server', `http://127.0.0.1:${(html.address() as { port: number }).port}`], foreign)).toBe(6)
    expect(foreign.err.join('\n')).toContain('with something that is not JSON ("<html><body>It works!</body></html>")')

    // JSON, but not the API's (another service): 6, for every command, no stack trace.
    const json: Server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'))
    await new Promise<void>((resolve) => json.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => json.close(resolve)))
    const jsonUrl = `http://127.0.0.1:${(json.address() as { port: number }).port}`
    for (const args of [['runs'], ['show', 'r'], ['cancel', 'r']]) {
      const other = captureIo()
      expect(await main([...args, '--server', jsonUrl], other), args.join(' ')).toBe(6)
      expect(other.err.join('\n')).toContain("with JSON that is not taskweave's API")
    }

    // A page that is not found (a wrong port, another web server) is the address's fault: 6, not 2.
    const notFound: Server = createServer((_request, response) => response.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE HTML><title>Not Found</title>'))
    await new Promise<void>((resolve) => notFound.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => notFound.close(resolve)))
    const missing = captureIo()
    expect(await main(['show', 'r1', '--server', `http://127.0.0.1:${(notFound.address() as { port: number }).port}`], missing)).toBe(6)
    expect(missing.err.join('\n')).toContain('is --server the address of taskweave serve?')

    // A redirect is not followed (the token would go wherever it points), and not tried again.
    const moved: Server = createServer((_request, response) => response.writeHead(301, { location: 'https://elsewhere.example/' }).end())
    await new Promise<void>((resolve) => moved.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => moved.close(resolve)))
    const redirected = captureIo()
    expect(await main(['runs', '--server', `http://127.0.0.1:${(moved.address() as { port: number }).port}`], redirected)).toBe(6)
    expect(redirected.err.join('\n')).toContain('with a redirect (301) to https://elsewhere.example/')

    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', 'a-wrong-token-of-some-length')
    const refused = captureIo()
    expect(await main(['runs', '--server', url], refused)).toBe(6)
    expect(refused.err.join('\n')).toContain('refused the request (401): the token was refused')
  })
})

describe('a stream that never gets anywhere: exit 6 once --timeout has passed, not a loop', () => {
  /** A server that answers a run as running and its event stream with `stream` (then closes it). */
  async function streamServer(stream: string): Promise<string> {
    const run = { id: 'r1', workflowId: 'w', status: 'running', createdAt: 0, counts: {}, labels: {}, live: true, tasks: [], lastEventId: 0 }
    const server = createServer((request, response) => {
      if (request.url?.endsWith('/events') === true) response.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream)
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(run))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`
  }

  for (const [name, stream, why] of [
    ['closes at once', 'retry: 2000\n\n', 'the stream closed before the run ended'],
    ['answers a gap, again and again', 'event: gap\ndata: {"resumeAfter":0}\n\n', 'the server keeps answering that events were missed'],
  ] as const) {
    it(`a stream that ${name}`, async () => {
      vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
      const io = captureIo()
      const started = performance.now()
      expect(await main(['show', 'r1', '--server', await streamServer(stream), '--follow', '--timeout', '1500ms'], io)).toBe(6)
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(io.err.join('\n')).toContain(`kept breaking for 1500 ms (--timeout): ${why}`)
      expect(io.err.filter((line) => line.startsWith('lost the event stream')).length).toBeLessThan(5)
    })
  }
})

describe('runs the server does not run, or no longer knows', () => {
  it('cancel of a finished run exits 1, as taskweave cancel does here', async () => {
    const { url } = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    expect(await main(['run', await workflowFile(DIAMOND), '--server', url, '--run-id', 'done1', '--input', 'who=x', '--quiet'], captureIo())).toBe(0)
    const io = captureIo()
    expect(await main(['cancel', 'done1', '--server', url], io)).toBe(1)
    expect(io.err.join('\n')).toContain('answered 409: run "done1" is not running here')
  })

  it('retry --server runs a failed run again on the server and follows it to its end; a run that succeeded exits 1', async () => {
    let broken = true
    const flaky = defineTool({ name: 't.flaky', input: z.object({}), run: () => (broken ? Promise.reject(new Error('the service is down')) : 'fine') })
    const { url } = await serve({ engine: createEngine({ builtins: false, tools: [...serverTools().tools, flaky], store: new MemoryRunStore() }) })
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const flow = await workflowFile(`id: flaky\ntasks:\n  - { id: a, tool: t.echo, input: { value: 1 } }\n  - { id: b, tool: t.flaky, dependsOn: [a] }\n`)
    expect(await main(['run', flow, '--server', url, '--run-id', 'fl1', '--quiet'], captureIo())).toBe(1)
    broken = false
    const io = captureIo()
    expect(await main(['retry', 'fl1', '--server', url, '--by', 'on-call'], io)).toBe(0)
    expect(plain(io.err)).toContain(`retrying run fl1 on ${url}`)
    expect((await apiRun(url, 'fl1')).status).toBe('succeeded')
    const again = captureIo()
    expect(await main(['retry', 'fl1', '--server', url], again)).toBe(1)
    expect(again.err.join('\n')).toContain('succeeded: there is nothing to retry')
    expect(await main(['retry', 'fl1', '--server', url, '--store', 'memory'], captureIo())).toBe(2)
    expect(await main(['resume', 'fl1', '--server', url], captureIo())).toBe(2)
  })

  it('show --follow of a run another process runs says so at once (exit 6), without waiting for --timeout', async () => {
    const store = new MemoryRunStore()
    const { url } = await serve({ engine: createEngine({ builtins: false, tools: serverTools().tools, store }) })
    const elsewhere = serverTools()
    const other = createEngine({ builtins: false, tools: elsewhere.tools, store })
    cleanups.push(() => other.close())
    const handle = other.start({ id: 'gated', tasks: [{ id: 'wait', tool: 't.gate' }] }, { runId: 'elsewhere' })
    await vi.waitFor(() => expect(handle.taskStatus('wait')).toBe('running'))
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    const started = performance.now()
    expect(await main(['show', 'elsewhere', '--server', url, '--follow', '--timeout', '20s'], io)).toBe(6)
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(io.err.join('\n')).toContain(`run elsewhere is unfinished, but ${url} does not run it`)
    elsewhere.open()
    await handle.result
  })

  it('a server restarted without a store no longer knows the run: exit 6, not "invalid input"', async () => {
    const a = await serve()
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    const following = main(['run', await workflowFile(GATED), '--server', a.url, '--run-id', 'forgotten', '--timeout', '20s'], io)
    await vi.waitFor(() => expect(plain(io.out)).toContain('run:started gated'), { timeout: 10_000 })
    await a.server.close()
    await a.engine.close()
    await serve({ port: a.server.port })
    expect(await following, io.text()).toBe(6)
    expect(io.err.join('\n')).toContain(`${a.url} no longer knows run forgotten: it restarted without a store`)
  })
})

describe('following survives the server restarting', () => {
  it('opens the stream again from its last event and follows the resumed run to its end', async () => {
    const store = new MemoryRunStore()
    const first = serverTools()
    const engineA = createEngine({ builtins: false, tools: first.tools, store })
    const a = await serve({ engine: engineA })
    vi.stubEnv('TASKWEAVE_TOKEN', TOKEN)
    const io = captureIo()
    const file = await workflowFile(`id: two\ntasks:\n  - { id: one, tool: t.echo, input: { value: 1 } }\n  - { id: wait, tool: t.gate, dependsOn: [one] }\n`)
    const following = main(['run', file, '--server', a.url, '--run-id', 'survivor', '--timeout', '20s'], io)
    await vi.waitFor(async () => expect((await apiRun(a.url, 'survivor')).tasks[1]?.status).toBe('running'), { timeout: 10_000 })
    // The CLI follows the stream (it printed the run's start) when the server goes away.
    await vi.waitFor(() => expect(plain(io.out)).toContain('run:started two'), { timeout: 10_000 })
    await a.server.close()
    await engineA.close()

    const second = serverTools()
    const engineB = createEngine({ builtins: false, tools: second.tools, store })
    await serve({ engine: engineB, port: a.server.port })
    expect(await engineB.resumeUnfinished()).toHaveLength(1)
    second.open()
    expect(await following, io.text()).toBe(0)
    expect(io.err.join('\n')).toContain('lost the event stream of run survivor')
    // The resumed run's own events are shown from its start, not skipped because its ids began again.
    expect(io.out.filter((line) => line.includes('run:started two')).length).toBe(2)
    expect(plain(io.out)).toMatch(/run succeeded/)
  })
})

/** Runs the CLI as a process and sends it SIGINT once its stderr says `text`. */
async function interruptOnceSaid(args: readonly string[], env: NodeJS.ProcessEnv, text: string): Promise<Awaited<ReturnType<typeof collect>>> {
  const child = spawnBin(args, { env })
  let said = ''
  child.stderr.on('data', (chunk: Buffer) => {
    said += chunk.toString()
    if (said.includes(text) && !child.killed) child.kill('SIGINT')
  })
  return await collect(child, 20_000)
}

describe('taskweave run --server as a process', () => {
  it('Ctrl-C detaches: exit 130, the run goes on; --cancel-on-exit cancels it instead (exit 1)', async () => {
    const { url, open } = await serve()
    const env = { TASKWEAVE_TOKEN: TOKEN }
    const file = await workflowFile(GATED)

    const gone = await interruptOnceSaid(['run', file, '--server', url, '--run-id', 'ctrl-c'], env, 'Ctrl-C detaches')
    expect(gone.code, gone.stderr).toBe(130)
    expect(gone.stderr).toContain(`detached from run ctrl-c; it goes on on ${url}. Follow it again with: taskweave show ctrl-c --server ${url} --follow`)
    expect((await apiRun(url, 'ctrl-c')).status).toBe('running')

    const ended = await interruptOnceSaid(['run', file, '--server', url, '--run-id', 'ctrl-c-cancel', '--cancel-on-exit'], env, 'Ctrl-C detaches and cancels it')
    expect(ended.code, ended.stderr).toBe(1)
    expect(ended.stdout).toMatch(/run cancelled/)
    expect((await apiRun(url, 'ctrl-c-cancel')).status).toBe('cancelled')

    open()
    await vi.waitFor(async () => expect((await apiRun(url, 'ctrl-c')).status).toBe('succeeded'))
  })

  it('reads the token from .taskweave/token when it is private, and refuses one other users can read', async () => {
    const { url } = await serve()
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-token-'))
    await mkdir(join(dir, '.taskweave'))
    const tokenFile = join(dir, '.taskweave/token')
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
    const env = { TASKWEAVE_TOKEN: '' }
    const listed = await collect(spawnBin(['runs', '--server', url], { cwd: dir, env }), 20_000)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toContain(`no runs on ${url}`)

    await chmod(tokenFile, 0o644)
    const refused = await collect(spawnBin(['runs', '--server', url], { cwd: dir, env }), 20_000)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('can be read by other users of this machine (chmod 600')

    const missing = await collect(spawnBin(['runs', '--server', url, '--token-file', join(dir, 'nope')], { cwd: dir, env }), 20_000)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('does not exist')
  })

  it('sends the local server\'s token file to this machine only; a token sent over plain http to another one is warned about', async () => {
    const address = Object.values(networkInterfaces()).flat().find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address
    // A machine without a network address other than loopback has no other host to send it to.
    if (address === undefined) return
    const seen: Array<string | undefined> = []
    const other: Server = createServer((request, response) => {
      seen.push(request.headers.authorization)
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"runs":[]}')
    })
    await new Promise<void>((resolve) => other.listen(0, address, resolve))
    cleanups.push(() => new Promise((resolve) => other.close(resolve)))
    const url = `http://${address}:${(other.address() as { port: number }).port}`
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-token-'))
    await mkdir(join(dir, '.taskweave'))
    await writeFile(join(dir, '.taskweave/token'), `${TOKEN}\n`, { mode: 0o600 })
    const withoutToken = await collect(spawnBin(['runs', '--server', url], { cwd: dir, env: { TASKWEAVE_TOKEN: '' } }), 20_000)
    expect(withoutToken.code, withoutToken.stderr).toBe(0)
    expect(seen).toEqual([undefined])

    const given = await collect(spawnBin(['runs', '--server', url], { cwd: dir, env: { TASKWEAVE_TOKEN: TOKEN } }), 20_000)
    expect(given.code, given.stderr).toBe(0)
    expect(seen[1]).toBe(`Bearer ${TOKEN}`)
    expect(given.stderr).toContain(`warning: the token goes to ${address}:`)
  })
})
