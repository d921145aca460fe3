/**
 * Start-up: a command loads only what it uses (see bench/startup.ts for the timing, which tests do
 * not assert). Each case runs a fresh process with a recorder preloaded (fixtures/startup) and
 * looks at the packages it loaded. The controls show the recorder sees each package when it is
 * used, so a pass cannot come from a blind recorder.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { binPath, collect, ensureBuilt, root } from './cli-bin.js'
import type { BinResult } from './cli-bin.js'

beforeAll(ensureBuilt, 120_000)

const RECORDER = fileURLToPath(new URL('./fixtures/startup/record-loads.mjs', import.meta.url))
const THREE_TASKS = join(root, 'bench/fixtures/three-tasks.yaml')

/** Packages a plain `validate` has no use for. */
const NOT_FOR_VALIDATE = ['undici', 'piscina', '@marcbachmann/cel-js', 're2js', 'yaml', 'better-sqlite3', 'pg']

/** Runs `node …args` from the repo root with the recorder; resolves with the outcome and the packages loaded. */
async function recorded(args: readonly string[], nodeFlags: readonly string[] = []): Promise<BinResult & { packages: Set<string>; urls: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-startup-'))
  const record = join(dir, 'loads.txt')
  await writeFile(record, '')
  const child = spawn(process.execPath, [...nodeFlags, '--import', RECORDER, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', TASKWEAVE_STORE: 'memory', TW_RECORD_LOADS: record },
  })
  child.stdin.end()
  const result = await collect(child, 30_000)
  const packages = new Set<string>()
  const urls = (await readFile(record, 'utf8')).split('\n')
  for (const url of urls) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (match?.[1] !== undefined) packages.add(match[1])
  }
  return { ...result, packages, urls }
}

async function workflowFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-startup-'))
  const file = join(dir, 'flow.yaml')
  await writeFile(file, text)
  return file
}

const FS_TASK = 'tool: fs.getInfo\n    input: { path: . }'

describe('start-up: what a command loads', () => {
  it('validate of a 3-task file loads neither the HTTP client, worker threads, CEL, RE2, the positional YAML parser nor a store driver', async () => {
    const result = await recorded([binPath, 'validate', THREE_TASKS])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${THREE_TASKS}: valid workflow "three-tasks" with 3 tasks\n`)
    // The recorder saw what validate does use: zod and js-yaml, as the CLI carries them (scripts/build-cli.js).
    expect(result.urls.some((url) => url.endsWith('/dist/bin/vendor/zod.js'))).toBe(true)
    expect(result.urls.some((url) => url.endsWith('/dist/bin/vendor/js-yaml.js'))).toBe(true)
    for (const name of NOT_FOR_VALIDATE) expect(result.packages, name).not.toContain(name)
  })

  it('importing the package loads none of them either', async () => {
    const result = await recorded(['--input-type=module', '-e', "await import('taskweave')"])
    expect(result.code).toBe(0)
    expect(result.packages).toContain('zod')
    for (const name of NOT_FOR_VALIDATE) expect(result.packages, name).not.toContain(name)
  })

  it('(control) each loads when it is used: a condition, matches(), a YAML anchor, a request', async () => {
    const condition = await workflowFile(`id: w\ntasks:\n  - id: a\n    ${FS_TASK}\n    when: 'inputs.x == "y"'\n`)
    const matches = await workflowFile(`id: w\ntasks:\n  - id: a\n    ${FS_TASK}\n    when: '"abc".matches("a.c")'\n`)
    const anchor = await workflowFile(`id: w\ntasks:\n  - id: a\n    tool: fs.getInfo\n    input: &in { path: . }\n  - id: b\n    tool: fs.getInfo\n    input: *in\n`)
    const request = await workflowFile(`id: w\ntasks:\n  - id: a\n    tool: http.fetch\n    input: { url: 'http://127.0.0.1:9/' }\n`)

    const withCondition = await recorded([binPath, 'validate', condition])
    expect(withCondition.code).toBe(0)
    expect(withCondition.packages).toContain('@marcbachmann/cel-js')
    expect(withCondition.packages).not.toContain('re2js')

    const withMatches = await recorded([binPath, 'validate', matches])
    expect(withMatches.code).toBe(0)
    expect(withMatches.packages).toContain('re2js')

    const withAnchor = await recorded([binPath, 'validate', anchor])
    expect(withAnchor.stdout).toContain('valid workflow "w" with 2 tasks')
    expect(withAnchor.packages).toContain('yaml')

    // Refused (a private address) after the HTTP client loaded: the request code needs it.
    const withRequest = await recorded([binPath, 'run', request])
    expect(withRequest.code).toBe(1)
    expect(withRequest.stdout + withRequest.stderr).toContain('TW_HTTP_DENIED')
    expect(withRequest.packages).toContain('undici')
  })
})

// Node before 20.19 and 22.12 cannot require() an ES module such as cel-js; the flag makes this
// Node behave like one, where it can.
describe.runIf(process.features.require_module === true)('conditions where require() cannot load an ES module', () => {
  const flags = ['--no-experimental-require-module']

  it('a workflow file with a condition still validates and runs: the file reader loads CEL first', async () => {
    const file = await workflowFile(`id: w\ntasks:\n  - id: a\n    ${FS_TASK}\n  - id: b\n    ${FS_TASK}\n    when: 'tasks.a.status == "succeeded"'\n`)
    const validated = await recorded([binPath, 'validate', file], flags)
    expect(validated.stderr).toBe('')
    expect(validated.stdout).toContain('valid workflow "w" with 2 tasks')
    const ran = await recorded([binPath, 'run', file, '--quiet'], flags)
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain('2 succeeded')
  })

  it('a condition compiled in code works after loadConditionLanguage(), and says what to do before it', async () => {
    const program = [
      "import { ToolRegistry } from 'taskweave/ports'",
      "import { builtinTools } from 'taskweave/tools'",
      "import { compileWorkflow, loadConditionLanguage } from 'taskweave/workflow'",
      "const spec = { id: 'w', tasks: [{ id: 'a', tool: 'fs.getInfo', input: { path: '.' } }, { id: 'b', tool: 'fs.getInfo', input: { path: '.' }, when: 'tasks.a.status == \"succeeded\"' }] }",
      'const registry = new ToolRegistry(builtinTools())',
      // Synchronously, before any await: the background import of CEL cannot have finished.
      'try { compileWorkflow(spec, { registry }); console.log("compiled before") } catch (err) { console.log("before:", err.message) }',
      'await loadConditionLanguage()',
      'console.log("after:", compileWorkflow(spec, { registry }).size)',
    ].join('\n')
    const result = await recorded(['--input-type=module', '-e', program], flags)
    expect(result.stderr).toBe('')
    expect(result.stdout).toContain('after: 2')
    expect(result.stdout).toMatch(/before:[\s\S]*cannot load it synchronously: use Node ≥ 20\.19[\s\S]*loadConditionLanguage/)
  })
})
