import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { loadWorkflowFile, parseWorkflowText } from './load.js'
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

  it('accepts JSON and a byte-order mark', () => {
    const parsed = parseWorkflowText('\ufeff{"id": "w", "tasks": [{"id": "a", "tool": "echo", "input": {"text": "hi"}}]}', 'flow.json')
    expect((parsed.value as { id: string }).id).toBe('w')
  })
})
