/**
 * State-machine definitions: named states, each with a `run` step that picks the next state.
 * Definitions are validated once, here (unknown initial state, bad timeouts, bad retry policies),
 * so a running machine only has to check what a step returns.
 *
 * Conventions, chosen once:
 * - A step returns the next state's name, `{ next, context }` to also replace the context, or
 *   {@link DONE} (`null`) to finish; `{ next: DONE, context }` finishes with a new context.
 *   `null` rather than a symbol so a transition list stays plain JSON.
 * - The context is immutable: a step reads `ctx.context` and returns a new one. A step that fails
 *   and is retried then sees exactly the context its first attempt saw.
 * @module
 */
import { TaskweaveError, InvalidOptionError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import type { Duration } from '../core/duration.js'
import { toMs } from '../core/duration.js'
import { StateMachineError } from './errors.js'

const MACHINE_MARK = Symbol.for('taskweave.stateMachine')
const RESOLVED = Symbol('taskweave.stateMachine.resolved')

/** What a step returns to finish the machine. `null`, so transition lists stay JSON. */
export const DONE = null

/** The type of {@link DONE}. */
export type Done = typeof DONE

/** What a state's `run` returns: the next state, the next state with a new context, or {@link DONE}. */
export type StepResult<C, S extends string = string> = S | Done | { readonly next: S | Done; readonly context?: C }

/**
 * What a state's `run` returns, synchronously or as a promise. TypeScript widens a bare name
 * returned by an async function to `string` under a `T | Promise<T>` return type (it keeps the
 * literal only under a plain `Promise<T>`), so a promised plain string is accepted too; names are
 * checked again when the machine runs (`TW_FSM_UNKNOWN_STATE`).
 */
export type StepReturn<C, S extends string = string> = StepResult<C, S> | Promise<StepResult<C, S> | (string & {})>

/** One move of a machine, recorded when a state's step returns. */
export interface Transition<S extends string = string> {
  /** The state that ran. */
  readonly from: S
  /** The state entered next; `null` ({@link DONE}) when the machine finished. */
  readonly to: S | Done
  /** Clock time of the move, in ms. */
  readonly at: number
  /** Time spent in `from`, retries and their delays included. */
  readonly durationMs: number
  /** Attempts `from` needed (1 unless it was retried). */
  readonly attempts: number
}

/** What a state's `run` receives. */
export interface StateContext<C, S extends string = string> {
  /** The state being run. */
  readonly state: S
  /** The current context. Do not mutate it: return `{ next, context: { ...ctx.context, … } }`. */
  readonly context: Readonly<C>
  /** Aborted when the machine is cancelled or this attempt times out. Pass it to every I/O call. */
  readonly signal: AbortSignal
  /** 1 for the first attempt of this visit to the state, 2 for its first retry… */
  readonly attempt: number
  /** Transitions made before this state was entered (a copy, made when first read). */
  readonly transitions: readonly Transition<S>[]
  /** Waits on the machine's clock (a `ManualClock` in tests); rejects when `signal` aborts. */
  readonly sleep: (duration: Duration) => Promise<void>
}

/** Retry policy of one state: a fixed delay between attempts. */
export interface StateRetry {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** Wait between attempts. @default 0 */
  readonly delay?: Duration
}

/** One state. */
export interface StateSpec<C, S extends string = string> {
  /** Does the state's work and picks what comes next. */
  run(ctx: StateContext<C, S>): StepReturn<C, S>
  /** Time limit of one attempt; a timed-out attempt is retried like a failure. @default none */
  readonly timeout?: Duration
  /** Retries of a throwing (or timed-out) attempt. Errors with `retryable: false` are not retried. @default one attempt */
  readonly retry?: StateRetry
  /** What the state does (for docs and logs). */
  readonly description?: string
}

/** A machine as written, passed to {@link defineStateMachine}. */
export interface StateMachineDefinition<C, S extends string = string> {
  /** The state to start in. */
  readonly initial: NoInfer<S>
  /** Every state by name. */
  readonly states: { readonly [K in S]: StateSpec<C, NoInfer<S>> }
  /** The initial context (a run may pass another). */
  readonly context: C
  /** Most transitions one run may make before it fails with `TW_FSM_MAX_TRANSITIONS`. @default 1,000 */
  readonly maxTransitions?: number
  /** A name for messages and tools. @default 'state-machine' */
  readonly name?: string
}

/** A state with its options resolved to milliseconds. @internal */
export interface ResolvedState<C, S extends string> {
  readonly name: S
  readonly run: StateSpec<C, S>['run']
  readonly timeoutMs: number | undefined
  readonly maxAttempts: number
  readonly delayMs: number
}

/** A validated state machine. Run it with `runStateMachine`, in the background, or as a tool. */
export interface StateMachine<C = unknown, S extends string = string> {
  readonly [MACHINE_MARK]: true
  readonly name: string
  readonly initial: S
  readonly context: C
  readonly maxTransitions: number
  /** State names, in definition order. */
  readonly stateNames: readonly S[]
  /** @internal resolved states by name (a Map: a returned name such as `constructor` never finds a prototype member). */
  readonly [RESOLVED]: ReadonlyMap<string, ResolvedState<C, S>>
}

/**
 * Defines a state machine. Throws `TW_FSM_UNKNOWN_STATE` when `initial` is not a state and
 * `TW_INVALID_OPTION` for a bad timeout, retry policy or limit.
 * @example
 * const verify = defineStateMachine({
 *   initial: 'lookup',
 *   context: { userId: 'u1', verified: false },
 *   states: {
 *     lookup: { run: async ({ context, signal }) => ((await exists(context.userId, signal)) ? 'confirm' : DONE), retry: { maxAttempts: 3, delay: '1s' } },
 *     confirm: { run: ({ context }) => ({ next: DONE, context: { ...context, verified: true } }), timeout: '30s' },
 *   },
 * })
 * const result = await runStateMachine(verify)
 * console.log(result.finalState, result.context.verified) // 'confirm' true
 */
export function defineStateMachine<C, S extends string>(definition: StateMachineDefinition<C, S>): StateMachine<C, S> {
  if (typeof definition !== 'object' || definition === null) throw new InvalidOptionError('definition', 'an object ({ initial, states, context })', definition)
  // A misspelt field (contxt, maxTransition) would otherwise be a setting silently not applied.
  refuseUnknownOptions('defineStateMachine', definition, ['initial', 'states', 'context', 'maxTransitions', 'name'])
  const maxTransitions = definition.maxTransitions ?? 1000
  if (!Number.isInteger(maxTransitions) || maxTransitions < 1) throw new InvalidOptionError('maxTransitions', 'an integer ≥ 1', maxTransitions)
  const name = definition.name ?? 'state-machine'
  if (typeof definition.states !== 'object' || definition.states === null) throw new InvalidOptionError('states', 'an object of states', definition.states)
  const resolved = new Map<string, ResolvedState<C, S>>()
  for (const [stateName, spec] of Object.entries(definition.states) as [S, StateSpec<C, S> | undefined][]) {
    resolved.set(stateName, resolveState(stateName, spec))
  }
  if (resolved.size === 0) throw new InvalidOptionError('states', 'at least one state', definition.states)
  if (!resolved.has(definition.initial)) {
    throw new StateMachineError('TW_FSM_UNKNOWN_STATE', `state machine "${name}": initial state "${String(definition.initial)}" is not one of ${listStates(resolved.keys())}`, {
      state: String(definition.initial),
      details: { known: [...resolved.keys()] },
    })
  }
  return Object.freeze({
    [MACHINE_MARK]: true as const,
    name,
    initial: definition.initial,
    context: definition.context,
    maxTransitions,
    stateNames: Object.freeze([...resolved.keys()] as S[]),
    [RESOLVED]: resolved,
  })
}

/** True when `value` was made by {@link defineStateMachine} (in any copy of the package). */
export function isStateMachine(value: unknown): value is StateMachine<unknown, string> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MACHINE_MARK] === true
}

/** The machine's resolved states. @internal */
export function resolvedStates<C, S extends string>(machine: StateMachine<C, S>): ReadonlyMap<string, ResolvedState<C, S>> {
  const states = (machine as Partial<StateMachine<C, S>>)[RESOLVED]
  // A machine from another copy of the package carries that copy's private symbol: refuse clearly.
  if (states === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `"${machine.name}" was defined by another copy of taskweave; define it with this one`, { retryable: false })
  return states
}

/** `"a", "b" and "c"` for messages. */
export function listStates(names: Iterable<string>): string {
  const quoted = [...names].map((n) => `"${n}"`)
  return quoted.length <= 1 ? (quoted[0] ?? '(none)') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1] ?? ''}`
}

function resolveState<C, S extends string>(name: S, spec: StateSpec<C, S> | undefined): ResolvedState<C, S> {
  const run: unknown = typeof spec === 'object' && spec !== null ? (spec as { readonly run?: unknown }).run : spec
  if (typeof spec !== 'object' || spec === null || typeof run !== 'function') throw new InvalidOptionError(`states.${name}.run`, 'a function', run)
  // A state written as a class instance (the seed's `MyInitialState()`) keeps its own fields:
  // only a plain object is a list of options, where a key this API lacks is a mistake.
  if (isPlainObject(spec)) refuseUnknownOptions('defineStateMachine', spec, ['run', 'timeout', 'retry', 'description'], `states.${name}.`)
  const retry: unknown = spec.retry
  if (retry !== undefined) {
    if (typeof retry !== 'object' || retry === null || Array.isArray(retry)) throw new InvalidOptionError(`states.${name}.retry`, 'an object ({ maxAttempts, delay })', retry)
    refuseUnknownOptions('defineStateMachine', retry, ['maxAttempts', 'delay'], `states.${name}.retry.`)
  }
  const timeoutMs = spec.timeout === undefined ? undefined : toMs(`states.${name}.timeout`, spec.timeout)
  const maxAttempts = spec.retry?.maxAttempts ?? 1
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new InvalidOptionError(`states.${name}.retry.maxAttempts`, 'an integer ≥ 1', maxAttempts)
  const delayMs = spec.retry?.delay === undefined ? 0 : toMs(`states.${name}.retry.delay`, spec.retry.delay)
  return { name, run: spec.run.bind(spec), timeoutMs, maxAttempts, delayMs }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
