import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const fixture = new URL('./fixtures/agents-hung-close.ts', import.meta.url).pathname

describe('engine.close() with agent code that never settles (child process)', () => {
  it('returns within the grace period, rejects the caller and reports what it abandoned', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture], { timeout: 20_000 })
    const line = stdout.trim().split('\n').at(-1) ?? ''
    expect(line, 'engine.close() never returned').not.toBe('')
    const outcome = JSON.parse(line) as { callerCode: string; report: { clean: boolean; abandoned: { stage: string; agent: string }[] }; closeMs: number }
    expect(outcome.callerCode).toBe('TW_CANCELLED') // the engine force-closes the pool
    expect(outcome.report.clean).toBe(false)
    expect(outcome.report.abandoned).toEqual(expect.arrayContaining([
      expect.objectContaining({ stage: 'execute', agent: 'deaf' }),
      expect.objectContaining({ stage: 'dispose', agent: 'polite' }),
    ]))
    expect(outcome.closeMs).toBeLessThan(5000)
  })
})
