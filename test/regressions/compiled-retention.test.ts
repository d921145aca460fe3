/**
 * A compiled workflow must not keep the caller's definition alive: it pins what it needs (ids,
 * shapes, the graph, the text of what it could not pin otherwise), and the task objects it was
 * made from are the caller's to drop. Its getters were once made inside `compileWorkflow`, whose
 * scope held the definition, so every compiled workflow (and every run of one) kept all of its
 * task objects alive, and each young-generation collection during a run copied them again. A real
 * child process, because only `--expose-gc` lets the test force a collection.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

// Runs in the child: compiles definitions of each kind of task, drops them, collects, and says
// which of them are still alive while their compiled workflows are.
const child = `
const { compileWorkflow } = await import(process.argv[1])
const { ToolRegistry } = await import(process.argv[2])
const { defineTool } = await import(process.argv[3])
const { z } = await import('zod')
const registry = new ToolRegistry([
  defineTool({ name: 'noop', input: z.object({}), run: () => undefined }),
  defineTool({ name: 'echo', input: z.object({ text: z.string() }), run: ({ text }) => text }),
])
const kinds = {
  bare: (i) => ({ id: 't' + i, tool: 'noop', ...(i > 0 ? { dependsOn: ['t' + (i - 1)] } : {}) }),
  flat: (i) => ({ id: 't' + i, tool: 'echo', input: { text: 'x' + i } }),
  full: (i) => ({ id: 't' + i, tool: 'echo', input: { text: i > 0 ? '{{ tasks.t' + (i - 1) + '.output }}' : 'first' } }),
}
const refs = {}
// In a function of its own, so that nothing of the definition stays in this frame's registers.
function compileOne(kind, make) {
  const definition = { id: kind, tasks: Array.from({ length: 200 }, (_, i) => make(i)) }
  refs[kind] = new WeakRef(definition.tasks)
  return compileWorkflow(definition, { registry })
}
const kept = Object.entries(kinds).map(([kind, make]) => compileOne(kind, make))
await new Promise((resolve) => setTimeout(resolve, 0))
globalThis.gc()
const alive = Object.entries(refs).filter(([, ref]) => ref.deref() !== undefined).map(([kind]) => kind)
process.stdout.write(JSON.stringify({ alive, sizes: kept.map((w) => w.size), snapshotTasks: kept.map((w) => JSON.parse(w.snapshot).tasks.length) }))
`

function runChild(): Promise<string> {
  const proc = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', child, join(root, 'src/workflow/compile.ts'), join(root, 'src/core/registry.ts'), join(root, 'src/core/tool.ts')],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let stdout = ''
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  const guard = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  return new Promise((resolve) => {
    proc.once('exit', () => {
      clearTimeout(guard)
      resolve(stdout)
    })
  })
}

describe('what a compiled workflow keeps', () => {
  it('lets the definition it was compiled from go, whatever kind of tasks it holds', async () => {
    const result = JSON.parse(await runChild()) as { alive: string[]; sizes: number[]; snapshotTasks: number[] }
    expect(result.alive).toEqual([])
    // The compiled workflows still hold everything they pinned.
    expect(result.sizes).toEqual([200, 200, 200])
    expect(result.snapshotTasks).toEqual([200, 200, 200])
  }, 40_000)
})
