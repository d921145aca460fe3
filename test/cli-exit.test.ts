import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bin, ensureBuilt, root } from './cli-bin.js'

beforeAll(ensureBuilt, 120_000)

describe('taskweave run exits after its summary', () => {
  it('does not wait for a timed-out tool that ignores its signal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-exit-'))
    const file = join(dir, 'flow.yaml')
    const tools = JSON.stringify(join(root, 'test/fixtures/stubborn-tools.ts'))
    await writeFile(file, `id: w\ntools: [${tools}]\ntasks:\n  - id: slow\n    tool: stubborn.wait\n    timeout: 200ms\n    input: { ms: 60000 }\n`)
    const started = Date.now()
    // Before the fix the process lived until the tool's 60 s timer fired (the test's limit kills it at 20 s).
    const result = await bin(['run', file, '--quiet', '--allow-tools-from', join(root, 'test/fixtures')])
    expect(result.stderr).not.toContain('[test] killed')
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('run failed')
    expect(result.stdout).toContain('TW_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
