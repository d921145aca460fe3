/**
 * CLI defects found in review: a closed stdout (`taskweave run … | head -1`) ended the process
 * mid-run; `runs`, `show` and `prune` ignored the configured store; a TypeScript tool module that
 * fails to compile was reported without where; `runs --limit 0` named another flag.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { bin, binPath, ensureBuilt, root } from './cli-bin.js'
import { captureIo } from './cli-io.js'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-cli-review-'))
  dirs.push(dir)
  return dir
}

/** A workflow of `n` independent no-op tasks (each prints a line or more). */
async function workflowFile(dir: string, n: number): Promise<string> {
  const file = join(dir, 'flow.yaml')
  const tasks = Array.from({ length: n }, (_, k) => `  - id: t${k}\n    tool: fs.listDirectory\n    input: { path: . }`).join('\n')
  await writeFile(file, `id: many\ntasks:\n${tasks}\n`)
  return file
}

describe('taskweave CLI: review defects', () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it('a reader that goes away (| head -1) does not end the run: it finishes and is stored as succeeded', async () => {
    const dir = await tempDir()
    const file = await workflowFile(dir, 40)
    const store = `sqlite:${join(dir, 'runs.db')}`
    const child = spawn(process.execPath, [binPath, 'run', file, '--store', store, '--verbose', '--root', dir, '--run-id', 'piped'], { cwd: root, env: { ...process.env, NO_COLOR: '1' } })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // Read one chunk, then close the pipe, as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.stdout.destroy()
    const code = await new Promise<number | null>((resolve) => child.on('close', (exit) => resolve(exit)))
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event/)
    expect(code).toBe(0)
    const io = captureIo()
    expect(await main(['show', 'piped', '--store', store, '--json'], io)).toBe(0)
    expect(io.out.join('\n')).toContain('"status": "succeeded"')
  }, 60_000)

  it('runs, show and prune use the store of the config file (--config, or TASKWEAVE_CONFIG)', async () => {
    const dir = await tempDir()
    const file = await workflowFile(dir, 2)
    const config = join(dir, 'taskweave.config.yaml')
    await writeFile(config, `store: sqlite:${join(dir, 'configured.db')}\n`)
    expect(await main(['run', file, '--config', config, '--root', dir, '--run-id', 'configured', '--quiet'], captureIo())).toBe(0)
    const listed = captureIo()
    expect(await main(['runs', '--config', config, '--json'], listed)).toBe(0)
    expect(listed.out.join('\n')).toContain('configured')
    expect(await main(['show', 'configured', '--config', config], captureIo())).toBe(0)
    expect(await main(['prune', '--older-than', '1d', '--config', config], captureIo())).toBe(0)
  })

  it('says where a TypeScript tool module fails to compile', async () => {
    const dir = await tempDir()
    const tools = join(dir, 'bad.ts')
    await writeFile(tools, 'export const x = ;\n')
    const file = await workflowFile(dir, 1)
    const result = await bin(['validate', file, '--tools', tools], { cwd: dir })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/bad\.ts:1:\d+: ERROR: Unexpected ";"/)
  })

  it('runs --limit names --limit when it is not a whole number ≥ 1', async () => {
    const io = captureIo()
    expect(await main(['runs', '--limit', '0', '--store', 'memory'], io)).toBe(2)
    expect(io.text()).toContain('--limit must be a whole number ≥ 1; received "0"')
  })

  it('calls a bad config file an invalid configuration, naming the file and the field', async () => {
    const dir = await tempDir()
    const config = join(dir, 'taskweave.config.yaml')
    await writeFile(config, 'concurrency: lots\n')
    const io = captureIo()
    expect(await main(['runs', '--config', config], io)).toBe(2)
    expect(io.text()).toMatch(/^invalid configuration: .*taskweave\.config\.yaml.*concurrency/m)
    expect(io.text()).not.toContain('invalid workflow')
  })

  it('takes --input __proto__=x as an input like any other (refused as undeclared), and refuses an input given twice', async () => {
    const dir = await tempDir()
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ninputs:\n  topic: { type: string }\ntasks:\n  - id: a\n    tool: fs.listDirectory\n    input: { path: . }\n')
    const proto = captureIo()
    expect(await main(['run', file, '--store', 'memory', '--quiet', '--input', 'topic=x', '--input', '__proto__=y'], proto)).toBe(2)
    expect(proto.text()).toContain('"__proto__" is not a declared input')
    const twice = captureIo()
    expect(await main(['run', file, '--store', 'memory', '--quiet', '--input', 'topic=x', '--input', 'topic=y'], twice)).toBe(2)
    expect(twice.text()).toContain('--input topic is given twice')
  })
})
