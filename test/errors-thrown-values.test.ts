/**
 * Hostile thrown values must never crash the process or leave work `running`: each case runs in a
 * real child process, under Node's default `--unhandled-rejections=throw` (a crash exits non-zero)
 * and under `warn` (where the failure mode was a task stuck `running` and an unsettled await).
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)

/** Every value of the hardening pass that used to break error reporting, built in the child. */
const HOSTILE = `
const revoked = () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy }
const getterThrows = (key) => { const e = new Error('boom'); Object.defineProperty(e, key, { get() { throw new Error(key) } }); return e }
const cycle = () => { const a = new Error('a'); const b = new Error('b', { cause: a }); a.cause = b; return a }
export const hostile = {
  revokedProxy: revoked,
  codeGetter: () => getterThrows('code'),
  messageGetter: () => getterThrows('message'),
  toStringThrows: () => ({ toString() { throw new Error('no') } }),
  toPrimitiveThrows: () => ({ [Symbol.toPrimitive]() { throw new Error('no') } }),
  causeCycle: cycle,
  hugeMessage: () => new Error('x'.repeat(10 * 1024 * 1024)),
}
`

const BACKGROUND = `
${HOSTILE}
import { ConcurrentExecutor } from './src/background/executor.js'
import { defineStateMachine } from './src/fsm/define.js'
const background = new ConcurrentExecutor()
const ids = []
for (const [name, make] of Object.entries(hostile)) {
  ids.push(background.submit({ conversationId: 'c', name: 'fn-' + name, timeout: '10s', run: () => { throw make() } }))
  ids.push(background.submit({ conversationId: 'c', name: 'async-' + name, timeout: '10s', run: async () => { await null; throw make() } }))
  const machine = defineStateMachine({ name: 'm', initial: 'a', context: {}, states: { a: { run: () => { throw make() } } } })
  ids.push(background.submit({ conversationId: 'c', name: 'machine-' + name, timeout: '10s', run: machine }))
}
const outcomes = await Promise.all(ids.map((id) => background.result(id)))
await background.close()
process.stdout.write(JSON.stringify(outcomes.map((o) => ({ name: o.name, status: o.status, code: o.error?.code, message: o.error?.message.slice(0, 200) }))))
`

async function runChild(script: string, unhandled: 'throw' | 'warn'): Promise<string> {
  const { stdout } = await run(process.execPath, [`--unhandled-rejections=${unhandled}`, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    timeout: 20_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  return stdout
}

describe.each(['throw', 'warn'] as const)('hostile thrown values (--unhandled-rejections=%s)', (unhandled) => {
  it('fail background functions and state machines with a described error, never crashing or hanging', async () => {
    const outcomes = JSON.parse(await runChild(BACKGROUND, unhandled)) as { name: string; status: string; code: string; message: string }[]
    expect(outcomes).toHaveLength(21)
    for (const outcome of outcomes) expect(outcome, outcome.name).toMatchObject({ status: 'failed' })
    const byName = new Map(outcomes.map((o) => [o.name, o]))
    expect(byName.get('fn-revokedProxy')).toMatchObject({ code: 'TW_TOOL_FAILED', message: 'threw a value that cannot be described (revoked Proxy)' })
    expect(byName.get('async-toStringThrows')?.message).toBe('threw a value that cannot be described (its toString threw)')
    expect(byName.get('fn-codeGetter')).toMatchObject({ code: 'TW_TOOL_FAILED', message: 'boom' })
  })
})
