/**
 * The planner against the fake OpenAI-compatible server (real HTTP through the official `openai`
 * client, scripted answers): a valid plan runs on an engine; an invalid one is repaired with the
 * problems sent back; one still invalid fails TW_PLAN; the request carries the JSON Schema
 * response format and the tool catalogue; the abort signal ends the call; `llm.plan` adds the
 * planned tasks to a running workflow.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../../src/core/errors.js'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import { startFakeLlm } from '../../src/llm/fake/index.js'
import type { FakeLlm, FakeLlmOptions } from '../../src/llm/fake/index.js'
import { createPlannerTool, planWorkflow } from '../../src/llm/index.js'

const KEY = 'sk-planner-secret-0123456789'

const upper = defineTool({
  name: 'text.upper',
  description: 'Upper-cases a text; returns the text.',
  input: z.object({ text: z.string() }).strict(),
  run: ({ text }) => text.toUpperCase(),
})
const join_ = defineTool({
  name: 'text.join',
  description: 'Joins texts with a separator; returns the text.',
  input: z.object({ parts: z.array(z.string()).min(1), separator: z.string().default(' ') }).strict(),
  run: ({ parts, separator }) => parts.join(separator),
})
const TOOLS = [upper, join_]

/** Two independent upper-casings joined: a small DAG with template wiring. */
const GOOD_PLAN = {
  id: 'greeting',
  description: 'Shout two words and join them.',
  tasks: [
    { id: 'shout_a', tool: 'text.upper', input: { text: 'hello' }, description: 'first word' },
    { id: 'shout_b', tool: 'text.upper', input: { text: 'world' } },
    { id: 'joined', tool: 'text.join', input: { parts: ['{{ tasks.shout_a.output }}', '{{ tasks.shout_b.output }}'], separator: ', ' }, dependsOn: ['shout_a'] },
  ],
}

/** An unknown tool (a typo) and a dependency on a task that does not exist. */
const BAD_PLAN = {
  id: 'greeting',
  tasks: [
    { id: 'shout', tool: 'text.uppr', input: { text: 'hello' } },
    { id: 'joined', tool: 'text.join', input: { parts: ['{{ tasks.shout.output }}'] }, dependsOn: ['missing_step'] },
  ],
}

let fake: FakeLlm | undefined
afterEach(async () => {
  await fake?.close()
  fake = undefined
})

async function startFake(script: FakeLlmOptions['script'], options: Omit<FakeLlmOptions, 'script'> = {}): Promise<FakeLlm> {
  fake = await startFakeLlm({ ...options, ...(script === undefined ? {} : { script }) })
  return fake
}

function llmOf(server: FakeLlm) {
  return { baseURL: server.url, apiKey: KEY, model: 'gpt-4o-mini' }
}

/** The text of each message of a recorded request, by role. */
function messagesOf(server: FakeLlm, index: number): { role: string; content: string }[] {
  const request = server.requests()[index]
  expect(request, `request ${index}`).toBeDefined()
  return request!.messages.map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content) }))
}

describe('planWorkflow', () => {
  it('turns a valid first answer into a workflow that runs on an engine', async () => {
    const server = await startFake([JSON.stringify(GOOD_PLAN)])
    const planned = await planWorkflow({ goal: 'Say HELLO, WORLD', tools: TOOLS, llm: llmOf(server), env: {} })
    expect(planned.attempts).toBe(1)
    expect(planned.workflow.id).toBe('greeting')
    expect(planned.workflow.ids).toEqual(['shout_a', 'shout_b', 'joined'])
    expect(planned.usage.inputTokens).toBeGreaterThan(0)
    expect(planned.usage.outputTokens).toBeGreaterThan(0)
    expect(planned.model).toBe('gpt-4o-mini')
    expect(planned.spec).toEqual(GOOD_PLAN)

    await using engine = createEngine({ tools: TOOLS, builtins: false })
    const result = await engine.run(planned.workflow)
    expect(result.status).toBe('succeeded')
    expect(result.tasks['joined']?.output).toBe('HELLO, WORLD')
  })

  it('sends a json_schema response format, the rules and the tool catalogue', async () => {
    const server = await startFake([JSON.stringify(GOOD_PLAN)])
    await planWorkflow({ goal: 'Say HELLO, WORLD', tools: TOOLS, llm: llmOf(server), env: {} })
    const request = server.requests()[0]!
    expect(request.model).toBe('gpt-4o-mini')
    expect(request.stream).toBe(false)
    const format = request.responseFormat as { type: string; json_schema: { name: string; strict: boolean; schema: { required: string[]; properties: { tasks: { items: { required: string[]; properties: Record<string, unknown> } } } } } }
    expect(format.type).toBe('json_schema')
    expect(format.json_schema.name).toBe('workflow')
    expect(format.json_schema.strict).toBe(false)
    expect(format.json_schema.schema.required).toEqual(['id', 'tasks'])
    expect(Object.keys(format.json_schema.schema.properties.tasks.items.properties).sort()).toEqual(['dependsOn', 'description', 'id', 'input', 'tool'])
    expect(format.json_schema.schema.properties.tasks.items.required).toEqual(['id', 'tool'])

    const [system, user, ...rest] = messagesOf(server, 0)
    expect(rest).toEqual([])
    expect(system?.role).toBe('system')
    expect(system?.content).toContain('{{ tasks.<id>.output }}')
    expect(system?.content).toContain('Use only the tools listed below')
    // The catalogue: each tool's name, description and input JSON Schema.
    const catalogue = JSON.parse(system!.content.slice(system!.content.lastIndexOf('\n') + 1)) as { name: string; description: string; input: Record<string, unknown> }[]
    expect(catalogue.map((t) => t.name)).toEqual(['text.join', 'text.upper'])
    expect(catalogue[1]).toEqual({
      name: 'text.upper',
      description: 'Upper-cases a text; returns the text.',
      input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
    })
    expect(user).toEqual({ role: 'user', content: 'Goal: Say HELLO, WORLD' })
    // The key went in the header only.
    expect(request.headers['authorization']).toBe(`Bearer ${KEY}`)
  })

  it('repairs an invalid first answer: the second request lists the problems, and the corrected plan is returned', async () => {
    const server = await startFake([JSON.stringify(BAD_PLAN), JSON.stringify(GOOD_PLAN)])
    const planned = await planWorkflow({ goal: 'Say HELLO, WORLD', tools: TOOLS, llm: llmOf(server), env: {} })
    expect(planned.attempts).toBe(2)
    expect(planned.workflow.ids).toEqual(['shout_a', 'shout_b', 'joined'])
    expect(server.requests()).toHaveLength(2)

    const first = messagesOf(server, 0)
    const second = messagesOf(server, 1)
    expect(second.slice(0, 2)).toEqual(first)
    expect(second[2]).toEqual({ role: 'assistant', content: JSON.stringify(BAD_PLAN) })
    const repair = second[3]!
    expect(repair.role).toBe('user')
    expect(repair.content).toContain('That workflow is not valid (2 problems)')
    expect(repair.content).toContain('- task "shout" tasks[0].tool: unknown tool "text.uppr"; did you mean "text.upper"')
    expect(repair.content).toMatch(/- task "joined" tasks\[1\]\.dependsOn\[0\]: .*"missing_step"/)
    expect(repair.content).toContain('Answer with the whole corrected workflow')
    // The second request sends the same schema again.
    expect((server.requests()[1]!.responseFormat as { type: string }).type).toBe('json_schema')
    // Usage counts both calls.
    const stats = server.stats()
    expect(planned.usage).toEqual({ inputTokens: stats.inputTokens, outputTokens: stats.outputTokens })
  })

  it('fails TW_PLAN with the issues and the raw answer when the repair is still invalid', async () => {
    const server = await startFake([JSON.stringify(BAD_PLAN), JSON.stringify(BAD_PLAN)])
    const err = await planWorkflow({ goal: 'Say HELLO, WORLD', tools: TOOLS, llm: llmOf(server), env: {} }).catch((e: unknown) => e)
    expect(TaskweaveError.is(err, 'TW_PLAN')).toBe(true)
    const planError = err as TaskweaveError
    expect(planError.retryable).toBe(false)
    expect(planError.message).toContain('did not plan a valid workflow in 2 attempts (2 problems left)')
    expect(planError.message).toContain('unknown tool "text.uppr"')
    const details = planError.details as { attempts: number; issues: { taskId?: string; field?: string; message: string }[]; answer: string }
    expect(details.attempts).toBe(2)
    expect(details.issues).toEqual([
      expect.objectContaining({ taskId: 'shout', field: 'tasks[0].tool' }),
      expect.objectContaining({ taskId: 'joined', field: 'tasks[1].dependsOn[0]' }),
    ])
    expect(details.answer).toBe(JSON.stringify(BAD_PLAN))
    expect(JSON.stringify(planError.toJSON())).not.toContain(KEY)
    expect(planError.message).not.toContain(KEY)
    expect(server.requests()).toHaveLength(2)
  })

  it('maxRepairs: 0 makes one call only; a larger one keeps repairing', async () => {
    const once = await startFake([JSON.stringify(BAD_PLAN)])
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(once), env: {}, maxRepairs: 0 })).rejects.toMatchObject({ code: 'TW_PLAN', details: { attempts: 1 } })
    expect(once.requests()).toHaveLength(1)
    await once.close()

    const thrice = await startFake([JSON.stringify(BAD_PLAN), 'still thinking', JSON.stringify(GOOD_PLAN)])
    const planned = await planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(thrice), env: {}, maxRepairs: 2 })
    expect(planned.attempts).toBe(3)
    // The whole conversation goes along: system, goal, then an answer and its problems per repair.
    expect(messagesOf(thrice, 2).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user'])
  })

  it('treats an answer that is not JSON as a problem to repair, and accepts a fenced JSON answer', async () => {
    const server = await startFake(['Sure! Here is your workflow: shout then join.', '```json\n' + JSON.stringify(GOOD_PLAN, null, 2) + '\n```'])
    const planned = await planWorkflow({ goal: 'Say HELLO, WORLD', tools: TOOLS, llm: llmOf(server), env: {} })
    expect(planned.attempts).toBe(2)
    const repair = messagesOf(server, 1)[3]!
    expect(repair.content).toContain('That workflow is not valid (1 problem)')
    expect(repair.content).toContain('the answer is not valid JSON')
  })

  it('reports fields beyond a plan, {{ inputs }} templates and bad tool input, each with its task and field', async () => {
    const plan = {
      id: 'p',
      tools: ['./evil.js'],
      tasks: [
        { id: 'a', tool: 'text.upper', input: { text: '{{ inputs.word }}' }, retry: { maxAttempts: 3 } },
        { id: 'b', tool: 'text.upper', input: { txt: 'x' } },
      ],
    }
    const server = await startFake([JSON.stringify(plan)])
    const err = await planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {}, maxRepairs: 0 }).catch((e: unknown) => e)
    const issues = (err as TaskweaveError).details['issues'] as { taskId?: string; field?: string; message: string }[]
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'tools', message: expect.stringContaining('not a field of a planned workflow') }),
        expect.objectContaining({ taskId: 'a', field: 'tasks[0].retry', message: expect.stringContaining('not a field of a planned task') }),
        expect.objectContaining({ taskId: 'a', field: 'tasks[0].input.text', message: expect.stringContaining('has no inputs') }),
        expect.objectContaining({ taskId: 'b', field: expect.stringMatching(/^tasks\[1\]\.input/) }),
      ]),
    )
  })

  it('a cycle is a problem the model is asked to fix', async () => {
    const cyclic = {
      id: 'loop',
      tasks: [
        { id: 'a', tool: 'text.upper', input: { text: '{{ tasks.b.output }}' } },
        { id: 'b', tool: 'text.upper', input: { text: '{{ tasks.a.output }}' } },
      ],
    }
    const server = await startFake([JSON.stringify(cyclic), JSON.stringify(GOOD_PLAN)])
    const planned = await planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {} })
    expect(planned.attempts).toBe(2)
    expect(messagesOf(server, 1)[3]!.content).toMatch(/cycle/i)
  })

  it('the id option names the workflow whatever the model chose', async () => {
    const server = await startFake([JSON.stringify(GOOD_PLAN)])
    const planned = await planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {}, id: 'mine' })
    expect(planned.workflow.id).toBe('mine')
    expect(planned.spec.id).toBe('mine')
  })

  it('accepts an OpenAI client instance and a model option', async () => {
    const server = await startFake([JSON.stringify(GOOD_PLAN)])
    const client = new OpenAI({ baseURL: server.url, apiKey: KEY, maxRetries: 0 })
    const planned = await planWorkflow({ goal: 'g', tools: TOOLS, llm: client, model: 'gpt-4o', env: {} })
    expect(planned.attempts).toBe(1)
    expect(server.requests()[0]?.model).toBe('gpt-4o')
  })

  it('honours the abort signal: a call in flight ends with the signal\'s reason', async () => {
    const server = await startFake([{ content: JSON.stringify(GOOD_PLAN), latencyMs: 10_000 }])
    const controller = new AbortController()
    const reason = new Error('stop planning')
    setTimeout(() => controller.abort(reason), 50)
    const startedAt = performance.now()
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {}, signal: controller.signal })).rejects.toBe(reason)
    expect(performance.now() - startedAt).toBeLessThan(5_000)
    // The connection was dropped, not left to finish.
    for (let i = 0; i < 100 && server.stats().disconnected === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(server.stats().disconnected).toBe(1)

    const before = new AbortController()
    before.abort(reason)
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {}, signal: before.signal })).rejects.toBe(reason)
    expect(server.requests()).toHaveLength(1)
  })

  it('a provider error is what llm.chat throws, without the key', async () => {
    const server = await startFake([{ status: 401, error: `Incorrect API key provided: ${KEY}` }])
    const err = await planWorkflow({ goal: 'g', tools: TOOLS, llm: llmOf(server), env: {} }).catch((e: unknown) => e)
    expect(TaskweaveError.is(err, 'TW_LLM')).toBe(true)
    expect((err as TaskweaveError).retryable).toBe(false)
    expect(JSON.stringify((err as TaskweaveError).toJSON())).not.toContain(KEY)
  })

  it('refuses bad options before any call', async () => {
    await expect(planWorkflow({ goal: ' ', tools: TOOLS, llm: { baseURL: 'http://127.0.0.1:9/v1' }, env: {} })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: { baseURL: 'http://127.0.0.1:9/v1' }, env: {}, maxRepairs: -1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: { baseURL: 'http://127.0.0.1:9/v1' }, env: {}, id: 'no spaces' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    // OpenAI's own endpoint without a key: no call is made.
    await expect(planWorkflow({ goal: 'g', tools: TOOLS, llm: {}, env: {} })).rejects.toMatchObject({ code: 'TW_LLM', details: { reason: 'auth' } })
  })
})

describe('llm.plan in a running workflow', () => {
  /** A workflow whose `plan` task adds the planned tasks, and a static task beside it. */
  async function runWithPlanner(server: FakeLlm, planInput: Record<string, unknown>) {
    await using engine = createEngine({ tools: TOOLS, builtins: false })
    engine.registry.register(createPlannerTool({ llm: llmOf(server), tools: engine.registry, env: {} }))
    const added: string[] = []
    engine.events.on('task:added', (event) => void added.push(`${event.taskId}<-${event.addedBy ?? ''}`))
    const result = await engine.run({
      id: 'outer',
      tasks: [
        // The plan's own ids (shout_a…) appear here too: the prefix keeps the added ones apart.
        { id: 'shout_a', tool: 'text.upper', input: { text: 'outer' } },
        { id: 'plan', tool: 'llm.plan', input: planInput },
      ],
    })
    return { result, added }
  }

  it('adds the planned tasks, prefixed, and they run with their templates rewired', async () => {
    const server = await startFake([JSON.stringify(GOOD_PLAN)])
    const { result, added } = await runWithPlanner(server, { goal: 'Say HELLO, WORLD' })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['plan']?.output).toEqual({ added: ['plan-shout_a', 'plan-shout_b', 'plan-joined'] })
    for (const id of ['plan-shout_a', 'plan-shout_b', 'plan-joined']) expect(result.tasks[id]?.status, id).toBe('succeeded')
    expect(result.tasks['plan-joined']?.output).toBe('HELLO, WORLD')
    expect(result.tasks['shout_a']?.output).toBe('OUTER')
    expect(added.sort()).toEqual(['plan-joined<-plan', 'plan-shout_a<-plan', 'plan-shout_b<-plan'])
    // The planner was not offered itself.
    expect(messagesOf(server, 0)[0]!.content).not.toContain('llm.plan')
    // Its tokens count in the run's usage.
    expect(result.tasks['plan']?.usage).toMatchObject({ inputTokens: server.stats().inputTokens, outputTokens: server.stats().outputTokens })
  })

  it('takes a prefix, and adds parents before children whatever order the plan lists them in', async () => {
    const reversed = { ...GOOD_PLAN, tasks: [...GOOD_PLAN.tasks].reverse() }
    const server = await startFake([JSON.stringify(reversed)])
    const { result } = await runWithPlanner(server, { goal: 'Say HELLO, WORLD', prefix: 'p1_' })
    expect(result.status).toBe('succeeded')
    const { added } = result.tasks['plan']?.output as { added: string[] }
    expect(added.indexOf('p1_joined')).toBe(2)
    expect(result.tasks['p1_joined']?.output).toBe('HELLO, WORLD')
  })

  it('fails the planning task TW_PLAN, adding nothing, when the plan stays invalid', async () => {
    const server = await startFake([JSON.stringify(BAD_PLAN), JSON.stringify(BAD_PLAN)])
    const { result, added } = await runWithPlanner(server, { goal: 'Say HELLO, WORLD' })
    // The static task succeeded, the planning task failed.
    expect(result.status).toBe('partial')
    expect(result.tasks['plan']?.status).toBe('failed')
    expect(result.tasks['plan']?.error).toMatchObject({ code: 'TW_PLAN', retryable: false })
    expect(added).toEqual([])
    // Both calls' tokens were reported although the plan failed.
    expect(result.tasks['plan']?.usage).toMatchObject({ inputTokens: server.stats().inputTokens })
  })
})

describe('loading', () => {
  it('importing the planner does not load the openai package', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url))
    const recorder = fileURLToPath(new URL('../fixtures/startup/record-loads.mjs', import.meta.url))
    const dir = await mkdtemp(join(tmpdir(), 'tw-planner-'))
    const loaded = async (code: string): Promise<string> => {
      const record = join(dir, `${Math.random()}.txt`)
      await writeFile(record, '')
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', recorder, '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, TW_RECORD_LOADS: record } })
      const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(exit).toBe(0)
      return readFile(record, 'utf8')
    }
    expect(await loaded("await import('./src/llm/planner/index.ts')")).not.toMatch(/node_modules\/openai\//)
    // The control: the recorder does see openai when it loads.
    expect(await loaded("await import('./src/llm/planner/index.ts'); await import('openai')")).toMatch(/node_modules\/openai\//)
  })
})
