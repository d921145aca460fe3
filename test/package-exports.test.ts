/** The published surface, as a user's `import` meets it: the built package through its own name. */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import ts from 'typescript'
import { ensureBuilt, root } from './cli-bin.js'

const run = promisify(execFile)

/** Names each specifier exports, read in a fresh Node process from the built package. */
async function exportsOf(specifiers: readonly string[]): Promise<Record<string, string[]>> {
  const script = `const out = {}; for (const s of ${JSON.stringify(specifiers)}) out[s] = Object.keys(await import(s)).sort(); console.log(JSON.stringify(out))`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
  return JSON.parse(stdout) as Record<string, string[]>
}

/**
 * Writes `name` with `text` in a fresh temporary folder, runs the ES module script `scriptFor(path)`
 * in a fresh Node process in the package's folder, removes the folder, and returns what the
 * script printed, parsed as JSON.
 */
async function runWithFile(name: string, text: string, scriptFor: (path: string) => string): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'taskweave-exports-'))
  try {
    const path = join(dir, name)
    writeFileSync(path, text)
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', scriptFor(path)], { cwd: root })
    return JSON.parse(stdout) as unknown
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('package exports', () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it('keeps the root at about 60 names, types included, as its declarations give them', () => {
    const file = join(root, 'dist/index.d.ts')
    const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, noEmit: true })
    const checker = program.getTypeChecker()
    const module = checker.getSymbolAtLocation(program.getSourceFile(file) as ts.SourceFile)
    const names = module === undefined ? [] : checker.getExportsOfModule(module).map((symbol) => symbol.name)
    expect(names.length).toBeGreaterThan(50)
    expect(names.length).toBeLessThanOrEqual(65)
    // The store port, the LLM types and the background types live on their subpaths.
    for (const moved of ['RunStore', 'JournalEntry', 'RateLimitSpec', 'LlmUsage', 'SubmitOptions', 'EngineStats']) expect(names).not.toContain(moved)
  })

  it('keeps the root small and every subpath importable by name', async () => {
    const found = await exportsOf([
      'taskweave',
      'taskweave/workflow',
      'taskweave/tools',
      'taskweave/agents',
      'taskweave/background',
      'taskweave/state-machines',
      'taskweave/workers',
      'taskweave/ports',
      'taskweave/testing',
      'taskweave/llm',
      'taskweave/compat/laios',
      'taskweave/compat/beeai',
      'taskweave/stores/sqlite',
      'taskweave/stores/postgres',
      'taskweave/queues',
      'taskweave/queues/redis',
      'taskweave/queues/rabbitmq',
      'taskweave/distributed',
      'taskweave/mcp',
    ])
    const root = found['taskweave'] ?? []
    // Values only (types vanish at run time); the types are counted below.
    expect(root.length).toBeLessThanOrEqual(30)
    expect(root).toContain('createEngine')
    expect(root).not.toContain('Executor')
    expect(root).not.toContain('EventEmitter')
    expect(root).not.toContain('TASK_TRANSITIONS')
    expect(found['taskweave/compat/laios']).toContain('Executor')
    expect(found['taskweave/compat/beeai']).toContain('WorkflowOrchestrator')
    expect(found['taskweave/testing']).toContain('ManualClock')
    expect(found['taskweave/mcp']).toEqual(['connectMcpServer'])
    expect(root).toContain('pinoLogger')
    expect(found['taskweave/ports']).toContain('attemptIdOf')
    expect(found['taskweave/agents']).toContain('AgentSessionPool')
    expect(found['taskweave/agents']).not.toContain('AgentTaskManager')
    expect(found['taskweave/background']).toContain('ConcurrentExecutor')
    expect(found['taskweave/state-machines']).toContain('defineStateMachine')
    expect(found['taskweave/workflow']).toContain('compileWorkflow')
    expect(found['taskweave/tools']).toContain('builtinTools')
    expect(found['taskweave/workers']).toContain('defineWorkerTool')
    expect(found['taskweave/stores/sqlite']).toContain('openSqliteStore')
    expect(found['taskweave/stores/postgres']).toContain('openPostgresStore')
    expect(found['taskweave/testing']).toContain('storeConformanceCases')
    expect(root).toContain('MemoryRunStore')
    expect(root).toContain('RateLimitedError')
    expect(found['taskweave/llm']).toContain('createChatTool')
    expect(found['taskweave/queues']).toEqual(expect.arrayContaining(['createMessageQueue', 'createTransport', 'createMemoryQueue', 'QueueFullError']))
    expect(found['taskweave/queues/redis']).toEqual(expect.arrayContaining(['openRedisQueue', 'openRedisTransport']))
    expect(found['taskweave/queues/rabbitmq']).toEqual(expect.arrayContaining(['openRabbitQueue', 'openRabbitTransport']))
    expect(found['taskweave/distributed']).toEqual(expect.arrayContaining(['createRemoteRunner', 'startWorker']))
    expect(found['taskweave/testing']).toEqual(expect.arrayContaining(['queueConformanceCases', 'transportConformanceCases']))
  })

  it('loads a broker client only when an adapter is asked for', async () => {
    const script =
      "await import('taskweave'); await import('taskweave/queues'); await import('taskweave/distributed'); const loaded = Object.keys(await import('node:module').then((m) => m.createRequire(import.meta.url).cache)); console.log(JSON.stringify(loaded.filter((p) => /[\\/](bullmq|ioredis|amqplib)[\\/]/.test(p))))"
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
    expect(JSON.parse(stdout)).toEqual([])
  })

  it('loads a store driver only through its own subpath', async () => {
    const script = "await import('taskweave'); await import('taskweave/testing'); const loaded = Object.keys(await import('node:module').then((m) => m.createRequire(import.meta.url).cache)); console.log(JSON.stringify(loaded.filter((p) => /better-sqlite3|[\\/]pg[\\/]/.test(p))))"
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
    expect(JSON.parse(stdout)).toEqual([])
  })

  it('serves the bundled entry points, which share one copy of the engine: a workflow compiled through a subpath runs on the root engine, and errors are one class everywhere', async () => {
    const script = (workerModule: string): string => [
      "const { createEngine, defineTool, TaskweaveError, ValidationError } = await import('taskweave')",
      "const { compileWorkflow, defineWorkflow } = await import('taskweave/workflow')",
      "const root = await import('taskweave')",
      "const agents = await import('taskweave/agents')",
      "const machines = await import('taskweave/state-machines')",
      // What two entry points both export is one value, not two copies: a symbol, a class, a function.
      "const same = root.DONE === machines.DONE && root.AgentError === agents.AgentError && root.defineWorkflow === defineWorkflow",
      "const { Executor } = await import('taskweave/compat/laios')",
      "const { defineWorkerTool } = await import('taskweave/workers')",
      "const { z } = await import('zod')",
      "const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: ({ n }) => n * 2 })",
      "const engine = createEngine({ builtins: false, tools: [echo] })",
      "const compiled = compileWorkflow({ id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { n: 2 } }] }, { registry: engine.registry })",
      "const result = await engine.run(compiled)",
      "let invalid; try { engine.compile({ id: 'w', tasks: [{ id: 'a', tool: 'nope' }] }) } catch (err) { invalid = err }",
      "const executor = new Executor({ engine, maxWorkers: 2 })",
      "const [call] = await executor.executeParallel([{ toolName: 'echo', parameters: { n: 5 } }], { sessionId: 's' })",
      `const worker = defineWorkerTool({ name: 'w.double', input: z.object({ n: z.number() }), module: ${JSON.stringify(workerModule)}, exportName: 'double', mode: 'inline' })`,
      "const withWorker = createEngine({ builtins: false, tools: [worker] })",
      "const viaWorker = await withWorker.run({ id: 'v', tasks: [{ id: 'd', tool: 'w.double', input: { n: 21 } }] })",
      "await engine.close()",
      "await withWorker.close()",
      "console.log(JSON.stringify({ main: import.meta.resolve('taskweave'), workflow: import.meta.resolve('taskweave/workflow'), status: result.status, output: result.tasks.a.output, hash: result.workflowHash === compiled.hash, validation: invalid instanceof ValidationError && invalid instanceof TaskweaveError, call: call.output, worker: viaWorker.tasks.d.output, same }))",
    ].join('\n')
    const seen = (await runWithFile('double.mjs', 'export function double({ n }) { return n * 2 }\n', script)) as Record<string, unknown>
    expect(seen['main']).toMatch(/\/dist\/lib\/index\.js$/)
    expect(seen['workflow']).toMatch(/\/dist\/lib\/workflow\.js$/)
    expect(seen).toMatchObject({ status: 'succeeded', output: 4, hash: true, validation: true, call: 10, worker: 42, same: true })
  })

  it('loads the workflow file reader and its YAML parsers with the first file read, not with the import', async () => {
    // A loader hook sees every module the process loads. It runs on a thread of its own and posts
    // each YAML parser it loads to a port the script drains synchronously, so what loaded with the
    // import and what loaded with the read are told apart exactly.
    const hook = [
      'let port',
      'export function initialize(data) { port = data.port }',
      'export async function load(url, context, next) {',
      '  if (/[\\/]node_modules[\\/](js-yaml|yaml)[\\/]/.test(url)) port.postMessage(url)',
      '  return next(url, context)',
      '}',
    ].join('\n')
    const script = (file: string): string => [
      "import { register } from 'node:module'",
      "import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'",
      'const { port1, port2 } = new MessageChannel()',
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] })`,
      'const drain = () => { const urls = []; for (let m = receiveMessageOnPort(port1); m !== undefined; m = receiveMessageOnPort(port1)) urls.push(m.message); return urls }',
      "const { createEngine, defineTool } = await import('taskweave')",
      "const { z } = await import('zod')",
      "const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'noop', input: z.object({}), run: () => 1 })] })",
      'const atImport = drain()',
      `const compiled = await engine.load(${JSON.stringify(file)})`,
      'const atRead = drain()',
      'port1.close()',
      'console.log(JSON.stringify({ id: compiled.id, atImport, atRead }))',
    ].join('\n')
    const seen = (await runWithFile('flow.yaml', 'id: flow\ntasks:\n  - id: a\n    tool: noop\n', script)) as { id: string; atImport: string[]; atRead: string[] }
    expect(seen.id).toBe('flow')
    expect(seen.atImport).toEqual([])
    expect(seen.atRead.some((url) => /[\\/]js-yaml[\\/]/.test(url))).toBe(true)
  })

  it('names every exported function and class as the modules tsc compiled do (the bundles are built without esbuild\'s keepNames)', async () => {
    const script = [
      `const { LIBRARY_ENTRIES } = await import(${JSON.stringify(pathToFileURL(join(root, 'scripts', 'library-entries.js')).href)})`,
      'const renamed = []',
      'let checked = 0',
      'for (const [name, file] of Object.entries(LIBRARY_ENTRIES)) {',
      '  const bundled = await import(`./dist/lib/${name}.js`)',
      '  const compiled = await import(`./dist/${file}`)',
      '  for (const [key, value] of Object.entries(compiled)) {',
      "    if (typeof value !== 'function') continue",
      '    checked++',
      '    if (bundled[key]?.name !== value.name) renamed.push(`${name}.js exports ${key} named ${JSON.stringify(bundled[key]?.name)}, not ${JSON.stringify(value.name)}`)',
      '  }',
      '}',
      'console.log(JSON.stringify({ checked, renamed }))',
    ].join('\n')
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
    const { checked, renamed } = JSON.parse(stdout) as { checked: number; renamed: string[] }
    expect(renamed).toEqual([])
    expect(checked).toBeGreaterThan(50)
  })

  it('does not export internals by path', async () => {
    await expect(run(process.execPath, ['--input-type=module', '-e', "await import('taskweave/dist/engine/run.js')"], { cwd: root })).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })
})
