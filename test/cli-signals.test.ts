import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { collect, ensureBuilt, root, spawnBin } from './cli-bin.js'

beforeAll(ensureBuilt, 120_000)

describe('taskweave run on SIGTERM and SIGHUP', () => {
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} cancels the run (tools aborted), prints the result and exits 1`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tw-cli-signal-'))
      const file = join(dir, 'flow.yaml')
      await writeFile(file, `id: w\ntools: [${JSON.stringify(join(root, 'test/fixtures/slow-tools.ts'))}]\ntasks:\n  - id: slow\n    tool: slow.wait\n    input: { ms: 60000 }\n`)
      const child = spawnBin(['run', file, '--json', '--allow-tools-from', join(root, 'test/fixtures')])
      let seen = ''
      child.stderr.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        if (seen.includes('task:started slow') && !child.killed) child.kill(signal)
      })
      // Before the fix the signal killed the process: no result, exit by signal.
      const { code, signal: killedBy, stdout, stderr } = await collect(child, 20_000)
      expect(killedBy, stderr).toBeNull()
      expect(code).toBe(1)
      expect(stderr).toContain(`${signal} received: cancelling the run`)
      const result = JSON.parse(stdout)
      expect(result.status).toBe('cancelled')
      expect(result.reason).toBe(`interrupted (${signal})`)
      expect(result.tasks.slow.status).toBe('cancelled')
    })
  }
})
