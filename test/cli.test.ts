import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { bin, collect, ensureBuilt, root, spawnBin } from './cli-bin.js'
import { captureIo } from './cli-io.js'

async function workflowFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-cli-'))
  const file = join(dir, 'flow.yaml')
  await writeFile(file, text)
  return file
}

// The bin runs the compiled CLI; `npm install` builds it, but a test run must not depend on that.
beforeAll(ensureBuilt, 120_000)

describe('taskweave CLI', () => {
  it('runs the README main job and prints the report (exit 0)', async () => {
    const { code, stdout } = await bin(['run', 'examples/analyse-source/workflow.yaml', '--input', 'root=src', '--verbose'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/run succeeded in [\d.]+s: \d+ succeeded/)
    expect(stdout).toMatch(/"files": \d+/)
    expect(stdout).toContain('task:started list (fs.listDirectory, attempt 1)')
  })

  it('prints a compact log, not every event, when stdout is not a terminal (the demo)', async () => {
    const verbose = await bin(['run', 'examples/analyse-source/workflow.yaml', '--input', 'root=src', '--verbose'])
    const compact = await bin(['run', 'examples/analyse-source/workflow.yaml', '--input', 'root=src'])
    expect(compact.code).toBe(0)
    const events = (text: string): string[] => text.split('\n').filter((l) => /^\s+\d+\.\d{3}s (run|task):/.test(l))
    // Before: one line per event (over a thousand for this demo).
    expect(events(verbose.stdout).length).toBeGreaterThan(100)
    expect(events(compact.stdout).length).toBeLessThan(20)
    expect(compact.stdout).toMatch(/run:started analyse-source/)
    expect(compact.stdout).toMatch(/run succeeded in [\d.]+s/)
  })

  it('exits 1 when the run is partial and 2 on invalid input, naming file, line and task', async () => {
    const partial = await bin(['run', 'examples/flaky-retry/workflow.yaml', '--input', 'failures=9', '--quiet'])
    expect(partial.code).toBe(1)
    expect(partial.stdout).toContain('run partial')
    expect(partial.stdout).toContain('✖ inventory (demo.flakyInventory, 4 attempts): ECONNRESET')
    expect(partial.stdout).toContain('blocked: restock, all-good')

    const file = await workflowFile('id: w\ntasks:\n  - id: a\n    tool: fs.readFile\n    dependsOn: [b]\n    input: { path: x }\n  - id: b\n    tool: fs.readFile\n    dependsOn: [a]\n    input: { path: x }\n')
    const cycle = await bin(['run', file])
    expect(cycle.code).toBe(2)
    expect(cycle.stderr).toMatch(/dependency cycle: (a → b → a|b → a → b)/)
    expect(cycle.stderr).toContain(`${file}:3:5 task "a"`)

    const missing = await bin(['validate', join(root, 'nope.yaml')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read the file: ENOENT')
  })

  it('validates, draws the graph, prints the schema', async () => {
    expect((await bin(['validate', 'examples/research-pipeline/workflow.yaml'])).stdout).toContain('valid workflow "research-pipeline" with 5 tasks')
    const mermaid = await bin(['viz', 'examples/flaky-retry/workflow.yaml'])
    expect(mermaid.stdout.split('\n')[0]).toBe('flowchart LR')
    expect(mermaid.stdout).toContain('t0 --> t1')
    const dot = await bin(['viz', 'examples/flaky-retry/workflow.yaml', '--format', 'dot'])
    expect(dot.stdout).toContain('"restock" -> "audit";')
    expect(JSON.parse((await bin(['schema'])).stdout)).toMatchObject({ title: 'taskweave workflow' })
  })

  it('loads tools from --tools modules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-tools-'))
    await writeFile(join(dir, 'tools.ts'), `import { z } from 'zod'\nimport { defineTool } from '${join(root, 'src/index.ts')}'\nexport const shout = defineTool({ name: 'my.shout', input: z.object({ text: z.string() }), run: ({ text }: { text: string }) => text.toUpperCase() })\n`)
    await writeFile(join(dir, 'flow.yaml'), 'id: w\ntasks:\n  - id: s\n    tool: my.shout\n    input: { text: hello }\n')
    const io = captureIo()
    const code = await main(['run', join(dir, 'flow.yaml'), '--tools', join(dir, 'tools.ts'), '--json'], io)
    expect(code).toBe(0)
    expect(JSON.parse(io.out.join('\n')).tasks.s.output).toBe('HELLO')
    const unknown = captureIo()
    expect(await main(['run', join(dir, 'flow.yaml')], unknown)).toBe(2)
    expect(unknown.text()).toContain('unknown tool "my.shout"')
  })

  it('cancels the run cleanly on SIGINT (exit 1, tasks cancelled)', async () => {
    const file = await workflowFile('id: w\ntools: [' + JSON.stringify(join(root, 'test/fixtures/slow-tools.ts')) + ']\ntasks:\n  - id: slow\n    tool: slow.wait\n    input: { ms: 60000 }\n')
    const child = spawnBin(['run', file, '--json', '--allow-tools-from', join(root, 'test/fixtures')])
    let stderr = ''
    let interrupted = false
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (!interrupted && stderr.includes('task:started slow')) {
        interrupted = true
        child.kill('SIGINT')
      }
    })
    const { code, stdout } = await collect(child, 20_000)
    expect(code).toBe(1)
    const result = JSON.parse(stdout)
    expect(result.status).toBe('cancelled')
    expect(result.reason).toBe('interrupted (SIGINT)')
    expect(result.tasks.slow.status).toBe('cancelled')
  })

  it('rejects bad arguments with exit 2', async () => {
    const io = captureIo()
    expect(await main(['run', 'a.yaml', '--concurrency', 'zero'], io)).toBe(2)
    expect(io.text()).toContain('--concurrency must be a whole number ≥ 1; received "zero"')
    expect(await main(['frobnicate'], captureIo())).toBe(2)
    expect(await main(['run', 'a.yaml', '--input', 'novalue'], captureIo())).toBe(2)
    const both = captureIo()
    expect(await main(['run', 'a.yaml', '--quiet', '--verbose'], both)).toBe(2)
    expect(both.text()).toContain('--quiet and --verbose cannot be given together')
  })

  it('names the option or command meant by a typo, with that command\'s usage only', async () => {
    const cases: Array<[string[], string]> = [
      [['run', 'a.yaml', '--tool', './t.mjs'], 'unknown option --tool for "run" (did you mean --tools?)'],
      [['run', 'a.yaml', '--concurency', '3'], 'unknown option --concurency for "run" (did you mean --concurrency?)'],
      [['runn', 'a.yaml'], 'unknown command "runn" (did you mean "run"?)'],
    ]
    for (const [argv, message] of cases) {
      const io = captureIo()
      expect(await main(argv, io), argv.join(' ')).toBe(2)
      const lines = io.text().split('\n')
      expect(lines[0]).toBe(`error: ${message}`)
      // The error stays in sight: a few lines of usage, not the whole of it.
      expect(lines.length).toBeLessThan(16)
      expect(io.text()).not.toContain('positional argument')
    }
  })

  it('prints one command\'s usage for <command> --help and -h (exit 0)', async () => {
    for (const argv of [['run', '--help'], ['validate', '-h'], ['dev', 'fake-llm', '--help'], ['worker', 'x.yaml', '--help']]) {
      const io = captureIo()
      expect(await main(argv, io), argv.join(' ')).toBe(0)
      expect(io.text()).toContain(`taskweave ${argv[0] as string} `)
      expect(io.text()).not.toContain('Unknown option')
    }
    const runHelp = captureIo()
    await main(['run', '--help'], runHelp)
    expect(runHelp.text()).not.toContain('taskweave resume')
  })

  it('says where a YAML file fails to parse once, without a dangling position', async () => {
    const file = await workflowFile('id: w\ntasks:\n  - id: a\n    tool: x\n    input: {a: 1\nb: 2\n')
    const io = captureIo()
    expect(await main(['validate', file], io)).toBe(2)
    expect(io.text()).toContain(`${file}:6:1: Flow map in block collection must be sufficiently indented and end with a }`)
    expect(io.text()).not.toMatch(/at line \d+, column \d+/)
  })
})

describe('taskweave validate --json', () => {
  it('prints the issues as JSON on stdout when the workflow is invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-validate-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ntasks:\n  - id: a\n    tool: fs.nope\n')
    const io = captureIo()
    expect(await main(['validate', file, '--json'], io)).toBe(2)
    const answer = JSON.parse(io.out.join('\n'))
    expect(answer).toMatchObject({ valid: false, issues: [{ taskId: 'a', field: 'tasks[0].tool', line: 4 }] })
  })
})

describe('taskweave validate with llm.chat', () => {
  it('knows the built-in llm.chat and checks its input, rate limits and budget', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-validate-llm-'))
    const good = join(dir, 'good.yaml')
    await writeFile(good, 'id: w\nlimits:\n  rates:\n    openai:gpt-4o-mini: { requests: 500/min, tokens: 200000/min }\nbudget: { maxTokens: 1000 }\ntasks:\n  - id: a\n    tool: llm.chat\n    input: { prompt: hi, maxTokens: 5 }\n')
    expect(await main(['validate', good], captureIo())).toBe(0)
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'id: w\nlimits:\n  rates:\n    k: { requests: lots }\ntasks:\n  - id: a\n    tool: llm.chat\n    input: { prompt: hi }\n')
    const io = captureIo()
    expect(await main(['validate', bad, '--json'], io)).toBe(2)
    const answer = JSON.parse(io.out.join('\n')) as { issues: { field?: string; message: string }[] }
    expect(answer.issues).toEqual([expect.objectContaining({ field: 'limits.rates.k.requests', message: expect.stringContaining("'600/min'") })])
    const badInput = join(dir, 'bad-input.yaml')
    await writeFile(badInput, 'id: w\ntasks:\n  - id: a\n    tool: llm.chat\n    input: { maxTokens: 5 }\n')
    const io2 = captureIo()
    expect(await main(['validate', badInput, '--json'], io2)).toBe(2)
    expect(io2.out.join('\n')).toContain('prompt')
  })
})
