import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { captureIo } from './cli-io.js'

const EVIL = '\x1b]0;pwned\x07\x1b[2J\x9b31m\r'

describe('terminal escapes from a run', () => {
  it('reach neither the event lines nor the summary raw', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-escapes-'))
    await writeFile(
      join(dir, 'tools.ts'),
      `import { z } from 'zod'\nimport { defineTool } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)}\n` +
        `const evil = ${JSON.stringify(EVIL)}\n` +
        `export const say = defineTool({ name: 'evil.say', input: z.object({}), run: (_input, ctx) => { ctx.progress({ message: 'working' + evil }); return 'line one\\nline two' + evil } })\n` +
        `export const fail = defineTool({ name: 'evil.fail', input: z.object({}), run: () => { throw new Error('bad' + evil) } })\n`,
    )
    await writeFile(join(dir, 'flow.yaml'), 'id: w\ntasks:\n  - id: say\n    tool: evil.say\n  - id: fail\n    tool: evil.fail\n')
    const io = captureIo()
    expect(await main(['run', join(dir, 'flow.yaml'), '--tools', join(dir, 'tools.ts'), '--verbose'], io)).toBe(1)
    // The CLI's own colours (when FORCE_COLOR is set) are the only escapes allowed.
    // eslint-disable-next-line no-control-regex -- stripping SGR colour codes
    const text = io.text().replace(/\x1b\[[0-9;]*m/g, '')
    // eslint-disable-next-line no-control-regex -- looking for raw control characters
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/)
    expect(text).toContain('working\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\r')
    expect(text).toContain('bad\\x1b]0;pwned')
    // The output block keeps its own line breaks.
    expect(text).toContain('line one\nline two\\x1b]0;pwned')
  })
})
