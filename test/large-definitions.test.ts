/**
 * Deep and wide definitions (RELIABILITY LD-04): a 50,000-task YAML file is validated by the CLI
 * without deep recursion, and a chain of 5,000 templates, each reading the one before, runs to
 * its end. The time and the peak RSS of the validation are printed (the figures docs/reliability.md
 * quotes), not judged here: speed and memory targets live in the benchmarks.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { bin, ensureBuilt, root } from './cli-bin.js'

// Inside the repository, so the tool module imports `taskweave` and `zod` by name, as in a user's project.
const dir = join(root, `test/.tmp-large-${process.pid}`)
beforeAll(async () => {
  await ensureBuilt()
  mkdirSync(dir, { recursive: true })
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('deep and wide definitions (LD-04)', () => {
  it('taskweave validate reads a 50,000-task YAML chain and says it is valid', async () => {
    const lines = ['id: wide', 'tasks:']
    for (let i = 0; i < 50_000; i++) lines.push(`  - { id: t${i}, tool: step, input: { n: ${i} }${i > 0 ? `, dependsOn: [t${i - 1}]` : ''} }`)
    writeFileSync(join(dir, 'wide.yaml'), `${lines.join('\n')}\n`)
    writeFileSync(join(dir, 'tools.mjs'), "import { z } from 'zod'\nimport { defineTool } from 'taskweave'\nexport const step = defineTool({ name: 'step', input: z.object({ n: z.number() }), run: ({ n }) => n })\n")
    // Prints the process's peak RSS as it exits.
    writeFileSync(join(dir, 'rss.mjs'), "process.on('exit', () => process.stderr.write(`maxRSS ${process.resourceUsage().maxRSS}\\n`))\n")
    const started = performance.now()
    const result = await bin(['validate', join(dir, 'wide.yaml'), '--tools', join(dir, 'tools.mjs')], { env: { NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'rss.mjs')).href}` }, timeoutMs: 60_000 })
    const ms = performance.now() - started
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('valid workflow "wide" with 50000 tasks')
    const maxRssKiB = Number(/maxRSS (\d+)/.exec(result.stderr)?.[1])
    process.stdout.write(`${JSON.stringify({ case: 'LD-04', tasks: 50_000, validateMs: Math.round(ms), peakRssMiB: Math.round(maxRssKiB / 1024) })}\n`)
    expect(maxRssKiB).toBeGreaterThan(0)
  }, 90_000)

  it('runs a chain of 5,000 templates, each reading the output of the one before', async () => {
    const step = defineTool({ name: 'step', input: z.object({ n: z.number() }), run: ({ n }) => n + 1 })
    await using engine = createEngine({ tools: [step], builtins: false })
    const tasks = [{ id: 'c0', tool: 'step', input: { n: 0 } as Record<string, unknown> }]
    for (let i = 1; i < 5000; i++) tasks.push({ id: `c${i}`, tool: 'step', input: { n: `{{ tasks.c${i - 1}.output }}` } })
    const result = await engine.run({ id: 'deep', tasks })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['c4999']?.output).toBe(5000)
  }, 60_000)
})
