import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const fixture = new URL('./fixtures/fsm-hostile-steps.ts', import.meta.url).pathname

describe('state steps that throw unreportable values (child process)', () => {
  it('fail their machine with TW_FSM_STATE_FAILED; the process neither crashes nor hangs', async () => {
    const { stdout } = await run(process.execPath, ['--unhandled-rejections=strict', '--import', 'tsx', fixture], { timeout: 20_000 })
    const outcomes = JSON.parse(stdout.trim()) as Record<string, { status: string; code: string; message: string }>
    for (const kind of ['revoked', 'codeGetterThrows', 'toStringThrows']) {
      expect(outcomes[kind], kind).toMatchObject({ status: 'failed', code: 'TW_FSM_STATE_FAILED', message: expect.stringContaining('state "step"') })
    }
  })
})
