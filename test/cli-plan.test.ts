/**
 * `taskweave plan`, in-process against the fake OpenAI-compatible server (reached through
 * OPENAI_BASE_URL, as a user would): the YAML it writes validates with `taskweave validate`, the
 * catalogue holds the built-ins and the --tools modules, an invalid plan exits 2 with its problems.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { main } from '../src/cli/main.js'
import { startFakeLlm } from '../src/llm/fake/index.js'
import type { FakeLlm } from '../src/llm/fake/index.js'
import { captureIo } from './cli-io.js'

const KEY = 'sk-cli-plan-secret-42'
const ENV_NAMES = ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'TASKWEAVE_LLM_MODEL'] as const

const toolModule =
  `import { z } from 'zod'\nimport { defineTool } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)}\n` +
  `export const shout = defineTool({ name: 'mine.shout', description: 'Upper-cases a text.', input: z.object({ text: z.string() }), run: ({ text }) => text.toUpperCase() })\n`

/** Reads a file, then shouts its content: a built-in and a --tools tool, wired by a template. */
const PLAN = {
  id: 'shout-readme',
  description: 'Read a file and shout it.',
  tasks: [
    { id: 'read', tool: 'fs.readFile', input: { path: 'README.md' } },
    { id: 'shout', tool: 'mine.shout', input: { text: '{{ tasks.read.output.content }}' }, description: 'upper-case it' },
  ],
}

let fake: FakeLlm | undefined
let saved: Record<string, string | undefined> = {}
let dir = ''
let tools = ''

beforeEach(async () => {
  saved = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]))
  dir = await mkdtemp(join(tmpdir(), 'tw-cli-plan-'))
  tools = join(dir, 'tools.ts')
  await writeFile(tools, toolModule)
})
afterEach(async () => {
  for (const name of ENV_NAMES) {
    if (saved[name] === undefined) delete process.env[name]
    else process.env[name] = saved[name]
  }
  await fake?.close()
  fake = undefined
})

/** Starts the fake with `script` and points the environment at it. */
async function provider(script: readonly string[]): Promise<FakeLlm> {
  fake = await startFakeLlm({ script })
  process.env['OPENAI_BASE_URL'] = fake.url
  process.env['OPENAI_API_KEY'] = KEY
  process.env['TASKWEAVE_LLM_MODEL'] = 'gpt-4o-mini'
  return fake
}

describe('taskweave plan', () => {
  it('writes --out, which taskweave validate accepts; the catalogue holds built-ins and --tools', async () => {
    const server = await provider([JSON.stringify(PLAN)])
    const out = join(dir, 'flow.yaml')
    const io = captureIo()
    expect(await main(['plan', 'Shout the README', '--out', out, '--tools', tools], io), io.text()).toBe(0)
    expect(io.out).toEqual([])
    expect(io.err).toHaveLength(1)
    expect(io.err[0]).toMatch(/^planned workflow "shout-readme": 2 tasks in 1 attempt \(gpt-4o-mini, \d+ input \+ \d+ output tokens\) → .*flow\.yaml$/)

    const text = await readFile(out, 'utf8')
    expect(text.startsWith('# Planned by taskweave plan for: Shout the README\n')).toBe(true)
    expect(parse(text)).toEqual(PLAN)

    const validate = captureIo()
    expect(await main(['validate', out, '--tools', tools], validate), validate.text()).toBe(0)
    expect(validate.out.join('\n')).toContain('valid workflow "shout-readme" with 2 tasks')

    const system = server.requests()[0]?.messages[0]?.content as string
    for (const name of ['fs.readFile', 'fs.listDirectory', 'http.fetch', 'llm.chat', 'mine.shout']) expect(system).toContain(`"name":"${name}"`)
    expect(server.requests()[0]?.headers['authorization']).toBe(`Bearer ${KEY}`)
  })

  it('prints the YAML to stdout without --out; --model and --base-url override the environment', async () => {
    const server = await provider([JSON.stringify(PLAN)])
    process.env['OPENAI_BASE_URL'] = 'http://127.0.0.1:9/v1' // nothing listens: --base-url must win
    const io = captureIo()
    expect(await main(['plan', 'Shout', 'the', 'README', '--tools', tools, '--model', 'gpt-4o', '--base-url', server.url], io), io.text()).toBe(0)
    expect(parse(io.out.join('\n'))).toEqual(PLAN)
    expect(io.out.join('\n')).toContain('# Planned by taskweave plan for: Shout the README')
    expect(server.requests()[0]?.model).toBe('gpt-4o')
    expect(io.err[0]).toContain('planned workflow "shout-readme"')
  })

  it('exits 2 with the problems when the plan stays invalid after the repair', async () => {
    const bad = JSON.stringify({ id: 'w', tasks: [{ id: 'a', tool: 'mine.whisper', input: {} }] })
    const server = await provider([bad, bad])
    const out = join(dir, 'flow.yaml')
    const io = captureIo()
    expect(await main(['plan', 'Whisper', '--out', out], io)).toBe(2)
    expect(io.err[0]).toBe('the model did not plan a valid workflow in 2 attempts (1 problem):')
    expect(io.err[1]).toContain('task "a" tasks[0].tool: unknown tool "mine.whisper"')
    expect(server.requests()).toHaveLength(2)
    await expect(readFile(out, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
    expect(io.text()).not.toContain(KEY)
  })

  it('exits 1 with the error when the provider cannot be reached, and 2 for a bad --base-url or no goal', async () => {
    await provider([])
    const unreachable = captureIo()
    expect(await main(['plan', 'Anything', '--base-url', 'http://127.0.0.1:9/v1'], unreachable)).toBe(1)
    expect(unreachable.err.join('\n')).toMatch(/^error: .*could not reach the provider/)

    const badUrl = captureIo()
    expect(await main(['plan', 'Anything', '--base-url', 'ftp://example.com'], badUrl)).toBe(2)
    expect(badUrl.err.join('\n')).toContain('option "llm.baseURL"')

    const noGoal = captureIo()
    expect(await main(['plan'], noGoal)).toBe(2)
    expect(noGoal.err.join('\n')).toContain('"plan" needs a goal')
  })
})
