/**
 * `taskweave validate` of a workflow of plain tasks checks it without building the zod workflow
 * schemas (about 12 ms of a fresh process), and builds them when a task needs them. In process,
 * through the CLI's `main`: this file's modules are its own (vitest isolates test files), so the
 * schemas start unbuilt.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { schemasBuilt } from '../src/workflow/schema.js'
import { captureIo } from './cli-io.js'
import { root } from './cli-bin.js'

describe('taskweave validate and the workflow schemas', () => {
  it('validates a file of plain tasks without them, and builds them for a task with a retry policy', async () => {
    expect(schemasBuilt()).toBe(false)
    const plain = captureIo()
    expect(await main(['validate', join(root, 'bench/fixtures/three-tasks.yaml')], plain), plain.text()).toBe(0)
    expect(schemasBuilt()).toBe(false)

    const dir = await mkdtemp(join(tmpdir(), 'tw-schema-lazy-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ntasks:\n  - id: a\n    tool: fs.getInfo\n    input: { path: "." }\n    retry: { maxAttempts: 2 }\n')
    const retrying = captureIo()
    expect(await main(['validate', file], retrying), retrying.text()).toBe(0)
    expect(schemasBuilt()).toBe(true)
  })
})
