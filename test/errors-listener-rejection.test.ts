/**
 * An async event listener (or background completion handler) that rejects must not crash the
 * process: the emitter documents that a failing listener never breaks the engine. Run in a real
 * child process, since the failure mode was an unhandled rejection killing it.
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)

const SCRIPT = `
import { z } from 'zod'
import { createEngine } from './src/engine/engine.js'
import { defineTool } from './src/core/tool.js'
const echo = defineTool({ name: 'echo', input: z.object({}), run: () => 'ok' })
const engine = createEngine({ tools: [echo], builtins: false })
engine.events.on('task:started', async () => { throw new Error('async listener bug') })
engine.events.onAny(() => Promise.reject(new Error('catch-all listener bug')))
const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'echo' }, { id: 'b', tool: 'echo', dependsOn: ['a'] }] })
await new Promise((resolve) => setImmediate(resolve)) // let the rejections surface before exiting
await engine.close()
process.stdout.write(result.status)
`

it('a rejecting async event listener neither crashes the process nor changes the run', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: root, timeout: 20_000 })
  expect(stdout).toBe('succeeded')
})

it('a rejecting async onComplete handler reported to a throwing logger does not crash the process', async () => {
  const script = `
import { ConcurrentExecutor } from './src/background/executor.js'
const logger = { debug() {}, info() {}, warn() {}, error() { throw new Error('logger bug') }, child() { return logger } }
const background = new ConcurrentExecutor({ logger, onComplete: async () => { throw new Error('handler bug') } })
const id = background.submit({ conversationId: 'c', name: 'f', run: () => 1 })
const outcome = await background.result(id)
await new Promise((resolve) => setImmediate(resolve))
process.stdout.write(outcome.status)
`
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 20_000 })
  expect(stdout).toBe('succeeded')
})
