import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { loadWorkflowFile, parseWithPositions, parseWorkflowText } from './load.js'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'

const registry = new ToolRegistry([defineTool({ name: 'echo', input: z.object({ text: z.string() }), run: ({ text }) => text })])

function parseIssues(text: string): ValidationIssue[] {
  try {
    parseWorkflowText(text, 'flow.yaml')
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues]
    throw err
  }
  throw new Error('expected a parse error')
}

describe('workflow files', () => {
  it('reports malformed YAML with line and column', () => {
    const issues = parseIssues('id: w\ntasks:\n  - id: a\n    tool: [echo\n')
    expect(issues[0]).toMatchObject({ file: 'flow.yaml', line: expect.any(Number), column: expect.any(Number) })
    expect(issues[0]!.line).toBeGreaterThanOrEqual(4)
  })

  it('pins schema errors to the line of the offending field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-load-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ntasks:\n  - id: a\n    tool: echo\n    input:\n      text: 42\n')
    const err = await loadWorkflowFile(file, registry).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).issues[0]).toMatchObject({ file, taskId: 'a', field: 'tasks[0].input.text', line: 6, column: 13 })
    expect((err as ValidationError).message).toContain(`${file}:6:13 task "a" tasks[0].input.text: input rejected by tool "echo"`)
  })

  it('refuses duplicate keys, custom tags and alias bombs, and keeps YAML 1.1 booleans as strings', () => {
    expect(parseIssues('id: w\nid: v\ntasks: []\n')[0]!.message).toMatch(/unique/i)
    expect(parseIssues('id: !!js/function "x"\ntasks: []\n')[0]!.message).toMatch(/tag/i)
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n')
    expect(parseIssues(`${bomb}\nid: w\ntasks: []\n`)[0]!.message).toMatch(/alias/i)
    const parsed = parseWorkflowText('id: w\ntasks:\n  - id: a\n    tool: echo\n    input: { text: no }\n', 'flow.yaml')
    expect((parsed.value as { tasks: { input: { text: unknown } }[] }).tasks[0]!.input.text).toBe('no')
  })

  it('caps nesting depth and file size, and rejects invalid UTF-8', async () => {
    expect(parseIssues(`id: w\ndeep: ${'['.repeat(100)}${']'.repeat(100)}\ntasks: []\n`)[0]!.message).toMatch(/nested/)
    const dir = await mkdtemp(join(tmpdir(), 'tw-load-'))
    const big = join(dir, 'big.yaml')
    await writeFile(big, `# ${'x'.repeat(2048)}\n`)
    await expect(loadWorkflowFile(big, registry, { maxBytes: 1024 })).rejects.toThrow(/the file is 2051 bytes; the limit is 1024/)
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, Buffer.from([0x69, 0x64, 0x3a, 0x20, 0xff, 0xfe, 0x0a]))
    await expect(loadWorkflowFile(bad, registry)).rejects.toThrow(/not valid UTF-8/)
  })

  it('a file holding the seeds\' bare list of tasks is told where the list goes', () => {
    const issues = parseIssues('[{"id": "task_1", "tool": "echo", "dependencies": []}, {"id": "task_2", "tool": "echo"}]')
    expect(issues.map((issue) => issue.message)).toEqual(['a workflow file must hold a mapping (id, tasks, …); this one holds a list of 2 tasks: give the workflow an id and put the list under tasks (id: my-flow, then tasks: with the list)'])
    expect(parseIssues('- 1\n- 2\n').map((issue) => issue.message)).toEqual(['a workflow file must hold a mapping (id, tasks, …); this one holds a list'])
  })

  it('accepts JSON and a byte-order mark', () => {
    const parsed = parseWorkflowText('\ufeff{"id": "w", "tasks": [{"id": "a", "tool": "echo", "input": {"text": "hi"}}]}', 'flow.json')
    expect((parsed.value as { id: string }).id).toBe('w')
  })
})

/** Exact text form of plain data: non-finite numbers, -0 and non-plain prototypes show. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return `#number ${String(Object.is(v, -0) ? '-0' : v)}`
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) return { '#prototype': String(Object.getPrototypeOf(v)), ...v }
    return v
  })
}

describe('the two YAML readers', () => {
  // Every plain file is read by js-yaml; the yaml parser reads the rest and locates issues.
  // Where both accept a text, they must give the same value.
  const scalars = ['x', '"quoted"', "'single'", '0b101', '1_000', '0o17', '0x1F', '1e3', '-2.5E-3', '.inf', '-.Inf', '.NaN', '~', 'null', 'Null', 'NULL', '', 'yes', 'no', 'on', 'off', 'y', 'True', 'FALSE', '012', '+12', '-0', '1.', '.5', '2001-12-14', '12:30:00', '!!str 12', '!!int "7"', '"\\u00e9\\t\\u0000"', '"a\\\\b"', 'a #not a comment', 'é', '9007199254740993', '[1, [2, {a: b}]]', '{}', '[]', '{ k: v, n: 1 }', '"{{ tasks.a.output }}"', '{{ tasks.a.output }}']
  const texts = [
    ...scalars.map((value) => `id: w\nvalue: ${value}\n`),
    'id: w\nblock: |\n  line one\n  line two\n\nfolded: >-\n  one\n  two\nkeep: |+\n  x\n\n',
    'id: w\n# a comment\ntasks:\n  - id: a   # trailing\n    tool: t\n    input:\n      list:\n        - 1\n        - two\n        - { three: 3 }\n',
    '{"id": "w", "tasks": [{"id": "a", "tool": "t", "input": {"n": 1.5, "s": "x", "b": true, "z": null}}]}',
    'id: w\n1: one\ntrue: yes\nnull: nothing\n"quoted key": v\n',
    'id: w\nanchored: &a { x: 1 }\n',
    'id: w\ninput: {__proto__: {polluted: 1}, constructor: {prototype: {x: 1}}}\n',
    'id: w\nmulti: "line one\n  line two"\nplain: a\n  b\n',
    // Texts the two parsers read differently (found by a differential fuzz): each must give the
    // yaml parser's value or its refusal.
    ...['1.10', '01234', '0x10', '0o17', '1e3', '.inf', '-0', '0.0', '9007199254740993', '~', 'Null', 'True', 'FALSE', ''].map((key) => `id: w\nv:\n  ${key}: x\n`),
    'id: w\nv: {1,000: x}\n',
    ': a\n"": b\n',
    ...['1e400', '-1e400', '1.7976931348623159e308', '9'.repeat(310), `0x${'F'.repeat(300)}`, `0o${'7'.repeat(400)}`].map((n) => `id: w\nv: ${n}\n`),
    '{"id":"w","v":1E400}',
    'id: w\nv: |1\n  a\n  \n',
    'id: w\nv: |2\n    \nz: 1\n',
    'id: w\nv: "a\\\n\n  b"\n',
    'id: w\nv: "a\r b"\n',
    '# c\n\ufeffid: w\n',
    ...['!!int 0b101', '!!int -0x1F', '!!float 12', '!!float "007"', '!!map', '!!seq ""', '"\\U00110000"', '"\\U80000000"', '!!binary aGVsbG8=', '!!timestamp 2001-12-14', '!!set {a}', '!!omap [a: 1]'].map((v) => `id: w\nv: ${v}\n`),
    'id: w\nv: &a k: x\n',
    `id: w\n${'k'.repeat(1100)}: x\n`,
    'id: w\rv: 1\r',
    '...\nid: w\n',
    'id: w\nv:\n\t\nz: 1\n',
    'id: w\nv:\n#TODO\n  x\nz: 1\n',
  ]

  it('agree on every text both accept, and js-yaml reads the repository examples', async () => {
    const { readFile, readdir } = await import('node:fs/promises')
    const dirs = await readdir(new URL('../../examples/', import.meta.url), { withFileTypes: true })
    for (const dir of dirs) {
      if (!dir.isDirectory()) continue
      const path = new URL(`../../examples/${dir.name}/workflow.yaml`, import.meta.url)
      const text = await readFile(path, 'utf8').catch(() => undefined)
      if (text !== undefined) texts.push(text)
    }
    let compared = 0
    for (const text of texts) {
      let fast: unknown
      try {
        fast = parseWorkflowText(text, 'f.yaml').value
      } catch {
        fast = undefined
      }
      let slow: unknown
      try {
        slow = parseWithPositions(text, 'f.yaml').value
      } catch {
        slow = undefined
      }
      expect(canonical(fast), text).toBe(canonical(slow))
      if (slow !== undefined) compared++
    }
    expect(compared).toBeGreaterThan(60)
  })

  it('refuses duplicate keys on the positional path too, at the repeated key, in one pass over large mappings', () => {
    // An alias sends the text to the yaml parser.
    const aliased = 'id: w\nanchor: &a 1\nref: *a\n'
    expect(parseIssues(`${aliased}v:\n  - {b: 1, "b": 2}\n`)[0]).toMatchObject({ message: 'Map keys must be unique', line: 5, column: 12 })
    expect(parseIssues(`${aliased}1: x\n"1": y\n`)[0]).toMatchObject({ line: 5, column: 1 })
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join(', ')
    expect(Object.keys((parseWorkflowText(`${aliased}v: {${keys}}\n`, 'f.yaml').value as { v: object }).v)).toHaveLength(20_000)
    expect(parseIssues(`${aliased}v: {${keys}, k7: again}\n`)[0]).toMatchObject({ message: 'Map keys must be unique', line: 4 })
  })

  it('refuses tags beyond the core schema on both paths', () => {
    for (const tag of ['!!binary aGVsbG8=', '!!timestamp 2001-12-14', '!!set {a}', '!!omap [a: 1]', '!!pairs [a: 1]']) {
      expect(() => parseWorkflowText(`id: w\nv: ${tag}\n`, 'f.yaml'), tag).toThrow(ValidationError)
    }
  })

  it('reads !!float on a number written without a fraction as that number (YAML 1.2), and refuses it on a word', () => {
    const read = (v: string): unknown => (parseWorkflowText(`id: w\nv: ${v}\n`, 'f.yaml').value as { v: unknown }).v
    expect(read('!!float 1')).toBe(1)
    expect(read('!!float -3')).toBe(-3)
    expect(read('!!float "2"')).toBe(2)
    expect(read('!!float 1.5e3')).toBe(1500)
    expect(read('!!float -.Inf')).toBe(-Infinity)
    expect(parseIssues('id: w\nv: !!float abc\n')[0]).toMatchObject({ message: expect.stringContaining('!!float needs a number; "abc" is not one') as unknown, line: 2, column: 4 })
  })

  it('locates issues of a file read on the fast path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-load-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ntasks:\n  - id: a\n    tool: echo\n    input: { text: hi }\n  - id: b\n    tool: ehco\n')
    try {
      await loadWorkflowFile(file, registry)
      throw new Error('expected a validation error')
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).issues[0]).toMatchObject({ file, taskId: 'b', field: 'tasks[1].tool', line: 7, column: 11 })
    }
  })

  it('reads a 20,000-task file and still refuses aliases beyond the cap and duplicate keys', () => {
    const lines = ['id: big', 'tasks:']
    for (let i = 0; i < 20_000; i++) lines.push(`  - id: t${i}`, '    tool: echo', '    input: { text: "x" }', ...(i > 0 ? [`    dependsOn: [t${i - 1}]`] : []))
    const parsed = parseWorkflowText(lines.join('\n'), 'big.yaml')
    expect((parsed.value as { tasks: unknown[] }).tasks).toHaveLength(20_000)
    expect(parseIssues('id: w\nid: x\n')[0]).toMatchObject({ line: 2, message: expect.stringContaining('unique') })
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, k) => `${String.fromCharCode(98 + k)}: &${String.fromCharCode(98 + k)} [${Array(10).fill(`*${String.fromCharCode(97 + k)}`).join(', ')}]`)].join('\n')
    expect(parseIssues(bomb)[0]!.message).toMatch(/alias/i)
  })
})

describe('deep nesting', () => {
  // Before the cap was checked on the text, both parsers overflowed the stack on these.
  it('reports flow nesting beyond the cap with file, line and column, not a stack overflow', () => {
    for (const [text, line] of [[`id: w\ntasks: []\nx: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, 3], [`{"id": "w", "tasks": [], "x": ${'{"a": '.repeat(20_000)}1${'}'.repeat(20_000)}}`, 1]] as const) {
      const issues = parseIssues(text)
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatchObject({ file: 'flow.yaml', message: 'the document is nested deeper than 64 levels', line })
    }
  })

  it('reports block nesting the parser cannot follow with the same words, once', () => {
    const dashes = `id: w\ntasks: []\nx:\n  ${'- '.repeat(5000)}a\n`
    const mappings = `id: w\ntasks: []\nx:\n${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`
    for (const text of [dashes, mappings]) {
      const issues = parseIssues(text)
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatchObject({ file: 'flow.yaml', message: 'the document is nested deeper than 64 levels', line: expect.any(Number) })
      expect(issues[0]!.message).not.toMatch(/call stack/)
    }
  })

  it('does not count brackets inside quotes, comments, plain text and block scalars', () => {
    const deep = '['.repeat(100)
    const text = `id: w\ntasks: []\na: "${deep}"\nb: '${deep}'\n# ${deep}\nc: x${deep}\nd: |\n  ${deep}\n  ${deep}\ne: ok\n`
    expect((parseWorkflowText(text, 'flow.yaml').value as { e: string }).e).toBe('ok')
  })
})
