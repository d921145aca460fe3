import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import { createEngine } from '../engine/engine.js'
import { ManualClock } from '../testing/manual-clock.js'
import { workflow } from '../workflow/builder.js'
import { DONE, defineStateMachine } from './define.js'
import { stateMachineTool } from './tool.js'

const loadUser = defineTool({
  name: 'user.load',
  input: z.object({ id: z.string() }),
  run: ({ id }) => ({ id, email: `${id}@example.com` }),
})

const welcome = defineTool({
  name: 'user.welcome',
  input: z.object({ verified: z.boolean(), state: z.string() }),
  run: ({ verified, state }) => (verified ? `welcome (ended in ${state})` : 'not verified'),
})

interface VerifyContext {
  readonly user: unknown
  readonly verified: boolean
  readonly channel: string
}
const initialContext: VerifyContext = { user: null, verified: false, channel: 'email' }

const verifyMachine = defineStateMachine({
  name: 'verify',
  initial: 'check',
  context: initialContext,
  states: {
    check: { run: ({ context }) => (context.user === null ? 'reject' : 'confirm') },
    confirm: {
      run: async ({ context, sleep }) => {
        await sleep('2s') // waits on the engine's manual clock
        return { next: DONE, context: { ...context, verified: true } }
      },
    },
    reject: { run: () => DONE },
  },
})

describe('stateMachineTool', () => {
  it('runs a state machine as a DAG task between a dependency and a dependent', async () => {
    const clock = new ManualClock()
    await using engine = createEngine({ clock, builtins: false })
    const verify = stateMachineTool('user.verify', verifyMachine, { clock })
    const flow = workflow({ id: 'onboard' })
      .task('load', loadUser, { input: { id: 'u1' } })
      .task('verify', verify, { input: { context: { user: '{{ tasks.load.output }}' } } })
      .task('welcome', welcome, { input: { verified: '{{ tasks.verify.output.context.verified }}', state: '{{ tasks.verify.output.finalState }}' } })
      .build()
    const handle = engine.start(flow)
    const progress: string[] = []
    handle.on('task:progress', (event) => progress.push(event.progress.message ?? ''))
    const result = await clock.runUntilSettled(handle.result)

    expect(result.status).toBe('succeeded')
    expect(result.tasks['verify']?.output).toEqual({
      finalState: 'confirm',
      // the task's context is merged over the machine's
      context: { user: { id: 'u1', email: 'u1@example.com' }, verified: true, channel: 'email' },
      transitions: [
        { from: 'check', to: 'confirm', at: 0, durationMs: 0, attempts: 1 },
        { from: 'confirm', to: null, at: 2000, durationMs: 2000, attempts: 1 },
      ],
    })
    expect(result.tasks['welcome']?.output).toBe('welcome (ended in confirm)')
    expect(progress).toEqual(['check → confirm', 'confirm → done'])
    // the DAG order held: load ended before verify started, verify before welcome
    expect(result.tasks['load']!.finishedAt!).toBeLessThanOrEqual(result.tasks['verify']!.startedAt!)
    expect(result.tasks['verify']!.finishedAt!).toBeLessThanOrEqual(result.tasks['welcome']!.startedAt!)
  })

  it('fails the task with the machine error, and blocks its dependents', async () => {
    const broken = defineStateMachine<object, string>({ name: 'broken', initial: 'a', context: {}, states: { a: { run: () => 'missing' } } })
    await using engine = createEngine({ builtins: false })
    const flow = workflow({ id: 'broken-flow' })
      .task('load', loadUser, { input: { id: 'u1' } })
      .task('machine', stateMachineTool('broken.machine', broken), { dependsOn: ['load'] })
      .task('after', welcome, { input: { verified: true, state: '{{ tasks.machine.output.finalState }}' } })
      .build()
    const result = await engine.run(flow)
    expect(result.status).toBe('partial')
    expect(result.tasks['machine']).toMatchObject({ status: 'failed', error: { code: 'TW_FSM_UNKNOWN_STATE', details: { state: 'a', next: 'missing' } } })
    expect(result.tasks['machine']?.blocked).toEqual(['after'])
  })

  it('stops the machine when the task times out', async () => {
    const clock = new ManualClock()
    const stuck = defineStateMachine({ initial: 'wait', context: {}, states: { wait: { run: ({ sleep }) => sleep('1h').then(() => DONE) } } })
    await using engine = createEngine({ clock, builtins: false })
    const flow = workflow({ id: 'stuck' }).task('m', stateMachineTool('stuck.machine', stuck, { clock }), { timeout: '10s' }).build()
    const result = await clock.runUntilSettled(engine.run(flow))
    expect(result.tasks['m']).toMatchObject({ status: 'failed', error: { code: 'TW_TIMEOUT' } })
    expect(clock.now()).toBe(10_000)
  })
})
