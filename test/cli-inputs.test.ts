import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { captureIo } from './cli-io.js'

describe('taskweave run --input', () => {
  it('refuses an integer beyond 2^53 for a number input (exit 2), naming the input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-cli-inputs-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ninputs:\n  n: { type: number }\ntasks:\n  - id: a\n    tool: fs.getInfo\n    input: { path: "." }\n')
    const io = captureIo()
    expect(await main(['run', file, '--quiet', '--input', 'n=9007199254740993'], io)).toBe(2)
    expect(io.err.join('\n')).toContain('input "n" holds the integer 9007199254740993')
  })
})
