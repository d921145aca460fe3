import { execFileSync } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bin, ensureBuilt } from './cli-bin.js'

beforeAll(ensureBuilt, 120_000)

describe('a workflow path that is not a regular file', () => {
  it('is refused at once with one line and exit 2: /dev/zero, a FIFO, a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-files-'))
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    for (const [path, kind] of [['/dev/zero', 'a character device'], [fifo, 'a pipe or FIFO'], [dir, 'a directory']] as const) {
      // Before the fix /dev/zero grew towards 4 GB, the FIFO blocked forever, the directory printed an EISDIR stack.
      const result = await bin(['validate', path], { timeoutMs: 10_000 })
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr.trim()).toBe(`invalid workflow: ${path}: not a regular file (${kind}); give the path of a YAML or JSON workflow file`)
    }
  })
})
