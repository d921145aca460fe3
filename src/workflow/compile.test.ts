import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compileWorkflow, resolveInputs } from './compile.js'
import { loadWorkflowFile, readWorkflowFile } from './load.js'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'

const fetchTool = defineTool({ name: 'web.fetch', input: z.object({ url: z.url(), retries: z.number().int().optional() }), run: () => 'x' })
const summarize = defineTool({ name: 'llm.summarize', input: z.object({ text: z.string() }), run: () => 'x' })
const registry = new ToolRegistry([fetchTool, summarize])

/** Writes `text` as file `name` in a directory of its own; returns its path. */
function workflowFileOf(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tw-file-')), name)
  writeFileSync(file, text)
  return file
}

function issuesOf(definition: unknown): ValidationIssue[] {
  try {
    compileWorkflow(definition, { registry, file: 'flow.yaml' })
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues]
    throw err
  }
  throw new Error('expected the workflow to be invalid')
}

describe('compileWorkflow: every problem at once', () => {
  it('a task the schema refuses still has its unknown tool reported', () => {
    expect(issuesOf({ id: 'w', tasks: [{ id: 'a', tool: 'web.fech', priorty: 3 }] }).map((i) => `${i.field}: ${i.message}`)).toEqual([
      'tasks[0].priorty: unknown key "priorty" (did you mean "priority"?)',
      'tasks[0].tool: unknown tool "web.fech"; did you mean "web.fetch"?',
    ])
  })

  it('a templated input has the fields written as they are checked now; the templated ones wait for the run', () => {
    const issues = issuesOf({
      id: 'w',
      tasks: [
        { id: 'a', tool: 'web.fetch', input: { url: 'https://example.com' } },
        { id: 'b', tool: 'web.fetch', input: { url: '{{ tasks.zzz.output }}', retries: 'x' } },
        { id: 'c', tool: 'web.fetch', input: { url: '{{ tasks.a.output }}', retries: 2 } },
        { id: 'd', tool: 'web.fetch', input: { retries: '{{ tasks.a.output }}' } },
      ],
    })
    expect(issues.map((i) => `${i.taskId} ${i.field}: ${i.message}`)).toEqual([
      'b tasks[1].input.url: template reference to task "zzz" is not a task of this workflow',
      expect.stringMatching(/^b tasks\[1\]\.input\.retries: input rejected by tool "web\.fetch": .*expected number/),
      expect.stringMatching(/^d tasks\[3\]\.input\.url: input rejected by tool "web\.fetch"/),
    ])
  })
})

describe('compileWorkflow', () => {
  it('accepts a valid workflow and wires dependencies from dependsOn, templates and conditions', () => {
    const compiled = compileWorkflow(
      {
        id: 'w',
        tasks: [
          { id: 'get', tool: 'web.fetch', input: { url: 'https://example.com' } },
          { id: 'sum', tool: 'llm.summarize', input: { text: '{{ tasks.get.output.body }}' } },
          { id: 'gate', tool: 'llm.summarize', input: { text: 'x' }, when: 'tasks.sum.status == "succeeded"' },
        ],
      },
      { registry },
    )
    expect(compiled.tasks[compiled.indexById.get('sum')!]!.parents).toEqual([0])
    expect(compiled.tasks[compiled.indexById.get('gate')!]!.parents).toEqual([1])
    expect(compiled.tasks[compiled.indexById.get('get')!]!.staticInput).toEqual({ value: { url: 'https://example.com' } })
  })

  it('lists every problem at once, each with file, task id and field', () => {
    const issues = issuesOf({
      id: 'w',
      tasks: [
        { id: 'a', tool: 'web.fetch', input: { url: 'not a url' } },
        { id: 'a', tool: 'llm.summarize', input: { text: 'x' } },
        { id: 'b', tool: 'web.fech', input: {} },
        { id: 'c', tool: 'llm.summarize', dependsOn: ['ghost'], input: { text: '{{ tasks.a.output' } },
        { id: 'd', tool: 'llm.summarize', input: { text: 'x' }, when: 'inputs.x >' },
      ],
    })
    const lines = issues.map((i) => `${i.taskId} ${i.field}: ${i.message}`)
    expect(lines).toEqual([
      expect.stringMatching(/^a tasks\[1\]\.id: duplicate task id "a" \(first defined at tasks\[0\]\)$/),
      expect.stringMatching(/^a tasks\[0\]\.input\.url: input rejected by tool "web\.fetch": /),
      'b tasks[2].tool: unknown tool "web.fech"; did you mean "web.fetch"?',
      'c tasks[3].dependsOn[0]: dependency "ghost" is not a task of this workflow',
      expect.stringMatching(/^c tasks\[3\]\.input\.text: unclosed "\{\{"/),
      expect.stringMatching(/^d tasks\[4\]\.when: condition "inputs\.x >" is malformed/),
    ])
    expect(issues.every((i) => i.file === 'flow.yaml')).toBe(true)
  })

  it('gives a bare task of a z.object({}) tool an empty input without parsing, and parses every other schema', () => {
    // The bare empty object's parse is watched: it must not be called.
    const parsed: string[] = []
    const watched = (name: string, schema: z.ZodType) => defineTool({ name, input: schema, run: () => undefined })
    const empty = z.object({})
    const originalParse = empty.safeParse.bind(empty)
    empty.safeParse = ((value: unknown, params?: unknown) => {
      parsed.push('empty')
      return originalParse(value, params as never)
    })
    const tools = [
      watched('empty', empty),
      watched('refined', z.object({}).refine(() => false, 'never valid')),
      watched('strict', z.strictObject({})),
      watched('transformed', z.object({}).transform(() => ({ added: true }))),
      watched('defaulted', z.object({ n: z.number().default(3) })),
    ]
    const compiled = compileWorkflow(
      { id: 'w', tasks: [{ id: 'a', tool: 'empty' }, { id: 'b', tool: 'strict' }, { id: 'c', tool: 'transformed' }, { id: 'd', tool: 'defaulted' }] },
      { registry: new ToolRegistry(tools) },
    )
    expect(parsed).toEqual([])
    expect(compiled.shapes.map((shape) => shape.staticInput?.value)).toEqual([{}, {}, { added: true }, { n: 3 }])
    expect(Object.isFrozen(compiled.shapes[0]?.staticInput?.value)).toBe(true)
    // A refinement is still run, and refuses the task.
    expect(() => compileWorkflow({ id: 'w', tasks: [{ id: 'a', tool: 'refined' }] }, { registry: new ToolRegistry(tools) })).toThrow(/never valid/)
  })

  it('compiles bare tasks (tool and dependencies only) on the fast path with the same results and errors', () => {
    const noop = defineTool({ name: 'noop', input: z.object({}), run: () => undefined })
    const reg = new ToolRegistry([noop, fetchTool])
    const compiled = compileWorkflow(
      {
        id: 'w',
        tasks: [
          { id: 'a', tool: 'noop' },
          { id: 'b', tool: 'noop', dependsOn: ['a', 'a'] },
          { id: 'c', tool: 'noop', dependsOn: ['b', 'a'], priority: 3, cost: 2 },
          { id: 'd', tool: 'noop', dependsOn: ['c'], group: 'g' },
        ],
      },
      { registry: reg },
    )
    expect(compiled.tasks.map((t) => t.parents)).toEqual([[], [0], [1, 0], [2]])
    expect(compiled.tasks.map((t) => t.children)).toEqual([[1, 2], [2], [3], []])
    expect(compiled.tasks.map((t) => [t.priority, t.cost, t.group])).toEqual([[0, undefined, undefined], [0, undefined, undefined], [3, 2, undefined], [0, undefined, 'g']])
    // Tasks that differ only in id and dependencies share one shape.
    expect(compiled.shapes[0]).toBe(compiled.shapes[1])
    expect(Array.from(compiled.order)).toEqual([0, 1, 2, 3])

    let issues: ValidationIssue[] = []
    try {
      compileWorkflow(
        {
          id: 'w',
          tasks: [
            { id: 'a', tool: 'noop' },
            { id: 'b', tool: 'noop', dependsOn: ['a', 'ghost'] },
            { id: 'c', tool: 'noop', dependsOn: ['c'] },
            { id: 'd', tool: 'nop' },
            { id: 'e', tool: 'web.fetch', dependsOn: ['a'] },
          ],
        },
        { registry: reg, file: 'flow.yaml' },
      )
    } catch (err) {
      if (err instanceof ValidationError) issues = [...err.issues]
    }
    expect(issues.map((i) => `${i.taskId} ${i.field}: ${i.message}`)).toEqual([
      'b tasks[1].dependsOn[1]: dependency "ghost" is not a task of this workflow',
      'c tasks[2].dependsOn[0]: task depends on itself',
      'd tasks[3].tool: unknown tool "nop"; did you mean "noop"?',
      expect.stringMatching(/^e tasks\[4\]\.input\.url: input rejected by tool "web\.fetch"/),
    ])
  })

  it('drops repeated dependencies of a 10,000-way join in linear time', () => {
    const noop = defineTool({ name: 'noop', input: z.object({}), run: () => undefined })
    const branches = Array.from({ length: 10_000 }, (_, i) => ({ id: `b${i}`, tool: 'noop' }))
    const ids = branches.map((b) => b.id)
    const join = { id: 'join', tool: 'noop', dependsOn: [...ids, ...ids] }
    const compiled = compileWorkflow({ id: 'w', tasks: [...branches, join] }, { registry: new ToolRegistry([noop]) })
    expect(compiled.tasks[10_000]?.parents).toHaveLength(10_000)
    expect(compiled.tasks[0]?.children).toEqual([10_000])
  })

  it('prints the path of a cycle, including one made through template references', () => {
    const direct = issuesOf({
      id: 'w',
      tasks: [
        { id: 'a', tool: 'llm.summarize', dependsOn: ['c'], input: { text: 'x' } },
        { id: 'b', tool: 'llm.summarize', dependsOn: ['a'], input: { text: 'x' } },
        { id: 'c', tool: 'llm.summarize', dependsOn: ['b'], input: { text: 'x' } },
      ],
    })
    expect(direct.map((i) => i.message)).toEqual(['dependency cycle: a → b → c → a'])
    const viaTemplate = issuesOf({
      id: 'w',
      tasks: [
        { id: 'a', tool: 'llm.summarize', input: { text: '{{ tasks.b.output }}' } },
        { id: 'b', tool: 'llm.summarize', dependsOn: ['a'], input: { text: 'x' } },
      ],
    })
    expect(viaTemplate[0]!.message).toMatch(/dependency cycle: (a → b → a|b → a → b)/)
    expect(issuesOf({ id: 'w', tasks: [{ id: 'a', tool: 'llm.summarize', dependsOn: ['a'], input: { text: 'x' } }] })[0]!.message).toBe('task depends on itself')
  })

  it('finds a 1,000-task cycle quickly and validates a 10,000-task chain without deep recursion', () => {
    const ring = Array.from({ length: 1000 }, (_, i) => ({ id: `t${i}`, tool: 'llm.summarize', dependsOn: [`t${(i + 1) % 1000}`], input: { text: 'x' } }))
    const started = performance.now()
    expect(issuesOf({ id: 'w', tasks: ring })[0]!.message).toMatch(/^dependency cycle: t0 → t999 → t998 → /)
    expect(performance.now() - started).toBeLessThan(1000)
    const chain = Array.from({ length: 10_000 }, (_, i) => ({ id: `t${i}`, tool: 'llm.summarize', ...(i > 0 ? { dependsOn: [`t${i - 1}`] } : {}), input: { text: 'x' } }))
    expect(compileWorkflow({ id: 'w', tasks: chain }, { registry }).tasks).toHaveLength(10_000)
  })

  it('refuses prototype paths, unknown template roots, undeclared inputs and item outside forEach', () => {
    const issues = issuesOf({
      id: 'w',
      inputs: { topic: { type: 'string' } },
      tasks: [
        { id: 'a', tool: 'llm.summarize', input: { text: '{{ tasks.b.output.__proto__.polluted }}' } },
        { id: 'b', tool: 'llm.summarize', input: { text: '{{ secrets.API_KEY }}' } },
        { id: 'c', tool: 'llm.summarize', input: { text: '{{ inputs.other }}' } },
        { id: 'd', tool: 'llm.summarize', input: { text: '{{ item }}' } },
        { id: 'e', tool: 'llm.summarize', input: { text: 'x' }, when: 'tasks.a.output.constructor == 1' },
      ],
    })
    expect(issues.map((i) => i.message)).toEqual([
      'template "{{ tasks.b.output.__proto__.polluted }}": the path segment "__proto__" is not allowed',
      'template "{{ secrets.API_KEY }}" must start with inputs, tasks, item or index',
      '{{ inputs.other }}: "other" is not a declared input',
      '{{ item }} is only available in a forEach task',
      'condition "tasks.a.output.constructor == 1": "constructor" is not allowed',
    ])
  })

  it('rejects bad ids, unknown fields and an empty workflow', () => {
    expect(issuesOf({ id: 'w', tasks: [] })[0]!.message).toBe('a workflow needs at least one task')
    const issues = issuesOf({ id: 'w', tasks: [{ id: 'a/../b', tool: 'llm.summarize', input: { text: 'x' }, retires: 3 }] })
    expect(issues.map((i) => i.field)).toEqual(['tasks[0].id', 'tasks[0].retires'])
    expect(issues[1]!.message).toBe('unknown key "retires"')
  })
})

describe('resolveInputs', () => {
  const compiled = compileWorkflow(
    { id: 'w', inputs: { n: { type: 'number' }, flag: { type: 'boolean', default: false }, tags: { type: 'array', required: false } }, tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' } }] },
    { registry },
  )

  it('converts text values to the declared types and fills defaults', () => {
    expect({ ...resolveInputs(compiled, { n: '42', tags: '["a"]' }) }).toEqual({ n: 42, tags: ['a'], flag: false })
  })

  it('keeps run inputs plain data under the size limit, naming the input that is not', () => {
    const compiled = compileWorkflow({ id: 'w', inputs: { doc: { type: 'string' }, meta: { type: 'object', required: false } }, tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: '{{ inputs.doc }}' } }] }, { registry })
    expect(resolveInputs(compiled, { doc: 'x', meta: { at: new Date(0), skip: undefined } })).toEqual({ doc: 'x', meta: { at: '1970-01-01T00:00:00.000Z' } })
    const issuesFor = (given: Record<string, unknown>, max?: number): string[] => {
      try {
        resolveInputs(compiled, given, max)
      } catch (err) {
        if (err instanceof ValidationError) return err.issues.map((i) => `${i.field}: ${i.message}`)
        throw err
      }
      return []
    }
    expect(issuesFor({ doc: 'é'.repeat(600_000) })).toEqual(['inputs.doc: input "doc" is 1.1 MiB as JSON; the limit is 1.0 MiB (raise the engine\'s maxInputBytes, or pass a file path and read it in a task)'])
    expect(issuesFor({ doc: 'short', meta: { n: 10n } })).toEqual([expect.stringMatching(/^inputs\.meta: input "meta" is not plain data: .*BigInt/)])
    const cyclic: Record<string, unknown> = {}
    cyclic['self'] = cyclic
    expect(issuesFor({ doc: 'x', meta: cyclic })).toEqual([expect.stringMatching(/^inputs\.meta: input "meta" is not plain data/)])
    expect(issuesFor({ doc: 'x'.repeat(100) }, 64)).toEqual([expect.stringContaining('is 102 B as JSON; the limit is 64 B')])
  })

  it('refuses integers a number would round instead of changing them; a string input keeps the text', () => {
    const big = compileWorkflow({ id: 'w', inputs: { n: { type: 'number' }, list: { type: 'array', required: false }, id: { type: 'string', required: false } }, tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' } }] }, { registry })
    for (const given of [{ n: '9007199254740993' }, { n: '1', list: '[9007199254740993]' }]) {
      try {
        resolveInputs(big, given)
        expect.unreachable('the input was rounded')
      } catch (err) {
        expect((err as ValidationError).issues[0]!.message).toMatch(/^input "(n|list)" holds the integer 9007199254740993, beyond what a number holds exactly .* type: string/)
      }
    }
    expect(resolveInputs(big, { n: '9007199254740991', id: '9007199254740993' })).toMatchObject({ n: 9007199254740991, id: '9007199254740993' })
  })

  it('names missing, mistyped and undeclared inputs', () => {
    expect(() => resolveInputs(compiled, { flag: 'maybe', extra: 1 })).toThrow(ValidationError)
    try {
      resolveInputs(compiled, { flag: 'maybe', extra: 1 })
    } catch (err) {
      expect((err as ValidationError).issues.map((i) => i.message)).toEqual([
        '"extra" is not a declared input (declared: n, flag, tags)',
        'required input "n" is missing',
        'input "flag" must be a boolean; received "maybe"',
      ])
    }
  })
})

describe('what a newcomer hits first', () => {
  it('a file that is not a workflow gets one clear problem, not one per key', () => {
    const packageJson = { name: 'x', version: '1.0.0', scripts: { test: 'vitest' }, dependencies: { zod: '^4' }, devDependencies: {}, license: 'MIT', main: 'index.js' }
    const issues = issuesOf(packageJson)
    expect(issues).toHaveLength(1)
    expect(issues[0]!.message).toBe('this is not a taskweave workflow: a workflow holds "id" and "tasks" (a list of tasks), and this file has "name", "version", "scripts", "dependencies", "devDependencies", "license", …')
  })

  it('the seed\'s bare list of tasks is told where the list goes, in one problem', () => {
    const issues = issuesOf([{ id: 'task_1', tool: 'llm.summarize', dependencies: [] }, { id: 'task_2', tool: 'llm.summarize', dependencies: ['task_1'] }])
    expect(issues.map((i) => i.message)).toEqual(['this is a list, not a workflow: a workflow is an object { id, tasks: [...] } (these 2 look like its tasks: put them under tasks)'])
  })

  it('a task written with the seed\'s "dependencies" key is told to use "dependsOn"', () => {
    const issues = issuesOf({ id: 'w', tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' }, dependencies: ['b'] }, { id: 'b', tool: 'llm.summarize', input: { text: 'x' } }] })
    expect(issues.map((i) => i.message)).toEqual([expect.stringContaining('"dependencies" (use "dependsOn" instead of "dependencies")')])
  })

  it('a task with a wrong field is still a task: its dependents are not told it does not exist, and a retry key of another library gets a hint', () => {
    const issues = issuesOf({
      id: 'w',
      tasks: [
        { id: 'a', tool: 'llm.summarize', input: { text: 'x' }, retry: { attempts: 3 } },
        { id: 'b', tool: 'llm.summarize', input: { text: 'x' }, dependsOn: ['a', 'zz'], timeout: 'soon' },
        { id: 'c', tool: 'llm.summarize', input: { text: 'x' }, dependsOn: ['a', 'b'] },
        { id: 'a', tool: 'llm.summarize', input: { text: 'x' }, retry: { max_retries: 2 } },
      ],
    })
    expect(issues.map((i) => [i.field, i.message])).toEqual([
      ['tasks[0].retry.attempts', 'unknown key "attempts" (use "maxAttempts" instead of "attempts")'],
      ['tasks[1].timeout', expect.stringContaining('must be a duration') as unknown],
      ['tasks[3].retry.max_retries', 'unknown key "max_retries" (use "maxAttempts" instead of "max_retries" (attempts in all, the first included))'],
      ['tasks[3].id', 'duplicate task id "a" (first defined at tasks[0])'],
      ['tasks[1].dependsOn[1]', 'dependency "zz" is not a task of this workflow'],
    ])
  })

  it('names the task a mistyped dependency or reference most likely meant', () => {
    const issues = issuesOf({
      id: 'w',
      tasks: [
        { id: 'plan', tool: 'llm.summarize', input: { text: 'x' } },
        { id: 'search', tool: 'llm.summarize', input: { text: 'x' }, dependsOn: ['plann'] },
        { id: 'sum', tool: 'llm.summarize', input: { text: '{{ tasks.serch.output }}' }, dependsOn: ['zz'] },
      ],
    })
    expect(issues.map((i) => [i.field, i.message])).toEqual([
      ['tasks[1].dependsOn[0]', 'dependency "plann" is not a task of this workflow (did you mean "plan"?)'],
      ['tasks[2].dependsOn[0]', 'dependency "zz" is not a task of this workflow'],
      ['tasks[2].input.text', 'template reference to task "serch" is not a task of this workflow (did you mean "search"?)'],
    ])
  })

  it('gives the hint for the first 20 unknown ids only (each looks through every id: thousands would cost their product)', () => {
    const tasks = Array.from({ length: 300 }, (_, i) => ({ id: `task${i}`, tool: 'llm.summarize', input: { text: 'x' }, dependsOn: [`tsk${i}`] }))
    const issues = issuesOf({ id: 'w', tasks })
    expect(issues).toHaveLength(300)
    expect(issues.filter((i) => i.message.includes('did you mean')).length).toBe(20)
  })

  it('an invalid task id is reported on the task, not again as an unknown dependency of every task naming it', () => {
    const issues = issuesOf({ id: 'w', tasks: [{ id: 'fetch.data', tool: 'llm.summarize', input: { text: 'x' } }, { id: 'b', tool: 'llm.summarize', input: { text: 'x' }, dependsOn: ['fetch.data'] }] })
    expect(issues.map((i) => i.field)).toEqual(['tasks[0].id', 'tasks[1].dependsOn[0]'])
    expect(issues.map((i) => i.message).join('\n')).not.toContain('is not a task of this workflow')
  })

  it('a cycle is reported together with an unknown dependency', () => {
    const task = (id: string, dependsOn: string[]) => ({ id, tool: 'llm.summarize', input: { text: 'x' }, dependsOn })
    const issues = issuesOf({ id: 'w', tasks: [task('a', ['b', 'zz']), task('b', ['a'])] })
    expect(issues.map((i) => i.message)).toEqual(['dependency "zz" is not a task of this workflow', expect.stringMatching(/^dependency cycle: (a → b → a|b → a → b)$/)])
  })
})

describe('names JavaScript objects treat specially', () => {
  it('refuses __proto__, constructor and prototype as task ids, group names and input names', () => {
    const registry = new ToolRegistry([defineTool({ name: 'x', input: z.object({}), run: () => 1 })])
    const definition = JSON.parse(
      '{"id":"w","inputs":{"__proto__":{"type":"string"}},"limits":{"groups":{"__proto__":1}},"tasks":[{"id":"constructor","tool":"x"},{"id":"ok","tool":"x","group":"prototype"}]}',
    ) as unknown
    let error: unknown
    try {
      compileWorkflow(definition, { registry })
    } catch (err) {
      error = err
    }
    const message = String((error as Error).message)
    expect(message).toContain('limits.groups.__proto__')
    expect(message).toContain('inputs.__proto__')
    expect(message).toContain('not be __proto__, constructor or prototype')
    expect(message).toContain('tasks[1].group')
  })
})

describe('forEach written with whitespace around its reference', () => {
  it('fans out over the list (a YAML folded scalar ends in a line feed), and a forEach reading item or index is refused at once', async () => {
    const list = defineTool({ name: 'list', input: z.object({}), run: () => ({ items: ['a', 'b', 'c'] }) })
    const upper = defineTool({ name: 'upper', input: z.object({ s: z.string() }), run: (input) => input.s.toUpperCase() })
    const { createEngine } = await import('../engine/engine.js')
    const engine = createEngine({ builtins: false, tools: [list, upper] })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'list' }, { id: 'each', tool: 'upper', forEach: ' {{ tasks.a.output.items }}\n', input: { s: '{{ item }}' } }] })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['each']?.output).toEqual(['A', 'B', 'C'])
    expect(() => engine.compile({ id: 'w', tasks: [{ id: 'a', tool: 'upper', forEach: '{{ index }}', input: { s: 'x' } }] })).toThrow(/forEach cannot read \{\{ index \}\}/)
    await engine.close()
  })
})

describe('input defaults', () => {
  it('are checked when the workflow is compiled (validate reports them), not only by the first run that falls back on them', () => {
    const issues = issuesOf({
      id: 'w',
      inputs: { n: { type: 'number', default: 'abc' }, flag: { type: 'boolean', default: 'yes' }, big: { type: 'number', default: 2 ** 53 + 2 }, ok: { type: 'number', default: 3 } },
      tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' } }],
    })
    expect(issues.map((i) => [i.field, i.message])).toEqual([
      ['inputs.n.default', 'the default of input "n" must be a number; received "abc"'],
      ['inputs.flag.default', 'the default of input "flag" must be a boolean; received "yes"'],
      ['inputs.big.default', expect.stringContaining('beyond what a number holds exactly') as unknown],
    ])
  })
})

describe('conditions (when)', () => {
  it('reading an input the workflow does not declare is reported at validation, as in a template; has(inputs.x) is no reference', () => {
    const issues = issuesOf({
      id: 'w',
      inputs: { threshold: { type: 'number', default: 3 } },
      tasks: [
        { id: 'a', tool: 'llm.summarize', input: { text: 'x' }, when: 'inputs.treshold > 1' },
        { id: 'b', tool: 'llm.summarize', input: { text: 'x' }, when: 'has(inputs.other) || inputs["threshold"] > 1' },
      ],
    })
    expect(issues.map((i) => [i.field, i.message])).toEqual([['tasks[0].when', 'condition reads inputs.treshold, which is not a declared input (declared: threshold)']])
  })

  it('written like a template, or with a task id holding "-" after a dot, gets a hint instead of the parser\'s message', () => {
    const task = (id: string, when?: string) => ({ id, tool: 'llm.summarize', input: { text: 'x' }, ...(when !== undefined ? { when } : {}) })
    expect(issuesOf({ id: 'w', tasks: [task('a'), task('b', '{{ tasks.a.output.n }} > 1')] })[0]?.message).toMatch(/a condition is a CEL expression, written without \{\{ \}\}/)
    expect(issuesOf({ id: 'w', tasks: [task('all-good'), task('b', 'tasks.all-good.status == "succeeded"')] })[0]?.message).toMatch(/an id with "-" is written tasks\["all-good"\] in a condition/)
    expect(() => compileWorkflow({ id: 'w', tasks: [task('all-good'), task('b', 'tasks["all-good"].status == "succeeded"')] }, { registry })).not.toThrow()
  })
})

describe('unknown keys in a workflow file', () => {
  it('are each named where they are written, with a hint, and one in the workflow does not hide those of its tasks', async () => {
    const file = workflowFileOf('k1.yaml', '# a comment\nid: k1\ntasks:\n  - id: a\n    tool: llm.summarize\n    retires: 3\n    input: { text: x }\nfaillFast: true\n')
    const error = await loadWorkflowFile(file, registry).then(() => undefined, (err: unknown) => err as ValidationError)
    expect(error?.issues.map((i) => `${i.line}:${i.field}: ${i.message}`)).toEqual(['8:faillFast: unknown key "faillFast" (did you mean "failFast"?)', '6:tasks[0].retires: unknown key "retires"'])
  })
})

describe('the pinned definition of a task on the fast path', () => {
  it('keeps its description: in the spec, the snapshot and the hash', () => {
    const noops = new ToolRegistry([defineTool({ name: 'noop', input: z.object({}), run: () => undefined })])
    const bare = (description?: string) => compileWorkflow({ id: 'd', tasks: [{ id: 'a', tool: 'noop', ...(description !== undefined ? { description } : {}) }] }, { registry: noops })
    expect(bare('Fetch the list').spec.tasks).toEqual([{ description: 'Fetch the list', id: 'a', tool: 'noop' }])
    expect(bare('Fetch the list').hash).not.toBe(bare('Fetch another').hash)
    expect(bare('Fetch the list').hash).not.toBe(bare().hash)
    expect(bare().spec.tasks).toEqual([{ id: 'a', tool: 'noop' }])
  })
})

describe('a timeout of 0', () => {
  it('is refused (it would fail every attempt at once), on a task and in the defaults', () => {
    const withInput = issuesOf({ id: 'w', tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' }, timeout: 0 }] })
    expect(withInput.map((i) => [i.field, i.message])).toEqual([['tasks[0].timeout', expect.stringContaining('must be a duration above 0') as unknown]])
    const defaults = issuesOf({ id: 'w', defaults: { timeout: '0s' }, tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' } }] })
    expect(defaults.map((i) => i.field)).toEqual(['defaults.timeout'])
  })
})

describe('integers a number cannot hold exactly, written in a workflow file', () => {
  it('are refused with their line (the parser would round them), in YAML and in JSON; a large float is left alone', async () => {
    const yamlFile = workflowFileOf('big.yaml', 'id: big\ntasks:\n  - id: a\n    tool: llm.summarize\n    input:\n      text: "9007199254740993"\n      retries: 9007199254740993\n')
    const yamlError = await readWorkflowFile(yamlFile).then(() => undefined, (err: unknown) => err as ValidationError)
    expect(yamlError?.issues.map((i) => `${i.line}:${i.column} ${i.message}`)).toEqual(['7:16 the integer 9007199254740993 is beyond what a number holds exactly (±9007199254740991): it would be read as 9007199254740992; write it in quotes to keep it as text'])
    const jsonFile = workflowFileOf('big.json', '{"id":"big","tasks":[{"id":"a","tool":"llm.summarize","input":{"text":"x","n":12345678901234567890}}]}')
    expect((await readWorkflowFile(jsonFile).then(() => undefined, (err: unknown) => err as ValidationError))?.issues[0]?.message).toMatch(/^the integer 12345678901234567890 is beyond what a number holds exactly/)
    const floatFile = workflowFileOf('float.yaml', 'id: f\ntasks:\n  - id: a\n    tool: llm.summarize\n    input: { text: x, scale: 1e20 }\n')
    expect(((await readWorkflowFile(floatFile)).value as { tasks: { input: { scale: number } }[] }).tasks[0]?.input.scale).toBe(1e20)
  })
})

describe('a YAML workflow file with more than one document', () => {
  it('is read when the others are empty (a trailing ---), and refused plainly when they hold something', async () => {
    const trailing = workflowFileOf('trailing.yaml', 'id: w1\ntasks:\n  - id: a\n    tool: llm.summarize\n    input: { text: x }\n---\n')
    expect(((await readWorkflowFile(trailing)).value as { id: string }).id).toBe('w1')
    const two = workflowFileOf('two.yaml', 'id: w1\ntasks:\n  - id: a\n    tool: llm.summarize\n---\nid: w2\ntasks: []\n')
    const error = await readWorkflowFile(two).then(() => undefined, (err: unknown) => err as ValidationError)
    expect(error?.issues.map((i) => `${i.line}: ${i.message}`)).toEqual(['5: a workflow file holds one workflow (one YAML document); this one holds 2, separated by ---: put each in a file of its own'])
  })
})

describe('a session on a tool task', () => {
  it('is refused (it means something to agent tasks only, and would be ignored)', () => {
    const issues = issuesOf({ id: 'w', tasks: [{ id: 'a', tool: 'llm.summarize', input: { text: 'x' }, session: 'user-1' }] })
    expect(issues.map((i) => [i.field, i.message])).toEqual([['tasks[0].session', expect.stringContaining('session applies to agent tasks (agent: <name>) only') as unknown]])
  })
})
