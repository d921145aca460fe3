/**
 * Runs a state machine to its end. The result is an outcome, never a rejection.
 *
 * Modes of one run, and what moves it:
 *
 *   entering(S)  → cancelled            the signal is already aborted
 *                → attempting(S, 1)    otherwise
 *   attempting(S, n)
 *                → stepped(S)          `run` returned (or resolved)
 *                → waiting(S, n)       `run` threw, or its attempt timed out, the error is
 *                                      retryable and n < retry.maxAttempts
 *                → failed              n = maxAttempts, or the error has `retryable: false`:
 *                                      TW_TIMEOUT when the last attempt timed out, else
 *                                      TW_FSM_STATE_FAILED with the last error as cause
 *                → cancelled           the signal aborts (the attempt's promise is abandoned;
 *                                      its late result or rejection is ignored)
 *   waiting(S, n) → attempting(S, n+1) after `retry.delay` on the clock; → cancelled on abort
 *   stepped(S)   → failed              the step named no known state (TW_FSM_UNKNOWN_STATE; a
 *                                      step returning something that is no step at all counts)
 *                                      or the run already made `maxTransitions` (TW_FSM_MAX_TRANSITIONS)
 *                → succeeded           the step returned DONE; a transition S → null is recorded
 *                → entering(T)         the step named T; a transition S → T is recorded and the
 *                                      context is replaced when the step returned one
 *
 * Whatever a step throws or returns is read defensively (`thrown.ts`): a revoked Proxy, an Error
 * whose `code` getter throws or an object whose `toString` throws fails the machine with a clear
 * error; it never makes the run reject, crash the process or hang.
 *
 * Every error names the state (`details.state`). `finalState` is the state the run ended in: the
 * one that returned DONE, failed, or was running when the signal aborted.
 *
 * Cost: linear in the transitions made. `ctx.transitions` is copied only when a step reads it
 * (once per visit to a state), and every {@link YIELD_EVERY} attempts the run yields to the event
 * loop through a macrotask (`setImmediate`, not the clock: a manual clock must not stop it), so a
 * long machine of synchronous steps never starves timers, I/O or other runs.
 * @module
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises'
import { sleep, systemClock } from '../core/clock.js'
import { setClockTimer } from '../core/clock-timer.js'
import type { Clock } from '../core/clock.js'
import { toMs } from '../core/duration.js'
import { CancelledError, isRetryable, serializeError, TaskweaveError, TimeoutError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import type { SerializedError } from '../core/errors.js'
import { isStateMachine, listStates, resolvedStates } from './define.js'
import type { ResolvedState, StateContext, StateMachine, Transition } from './define.js'
import { StateMachineError } from './errors.js'
import { readThrown, toReportable } from './thrown.js'

/** Options of {@link runStateMachine}. */
export interface RunStateMachineOptions<C, S extends string = string> {
  /** Aborting it cancels the machine (the running state sees it on `ctx.signal`). */
  readonly signal?: AbortSignal
  /** Source of time for timeouts, retry delays, `ctx.sleep` and transition times. @default the system clock */
  readonly clock?: Clock
  /** Initial context for this run. @default the machine's `context` */
  readonly context?: C
  /** Called after every transition with the context the next state will see (errors it throws are ignored). */
  readonly onTransition?: (transition: Transition<S>, context: C) => void
}

/** How a state machine run ended. Plain data apart from the context you put in. */
export interface StateMachineResult<C = unknown, S extends string = string> {
  /** `cancelled` when the signal aborted (then `error.code` tells why, e.g. TW_CANCELLED or TW_TIMEOUT). */
  readonly status: 'succeeded' | 'failed' | 'cancelled'
  /** The state the run ended in. */
  readonly finalState: S
  /** The context at the end. */
  readonly context: C
  /** Every transition, in order; the last one goes to `null` when the machine succeeded. */
  readonly transitions: readonly Transition<S>[]
  /** Why the machine failed or was cancelled. */
  readonly error?: SerializedError
  /** Clock times, in ms. */
  readonly startedAt: number
  readonly finishedAt: number
  readonly durationMs: number
}

/** Attempts made between two yields to the event loop. */
export const YIELD_EVERY = 64

type AttemptOutcome =
  | { readonly kind: 'stepped'; readonly value: unknown }
  | { readonly kind: 'threw'; readonly error: unknown; readonly timedOut: boolean }
  | { readonly kind: 'cancelled'; readonly reason: unknown }

/**
 * Runs `machine` until a state returns DONE, something fails, or `signal` aborts.
 * @example
 * const result = await runStateMachine(verify, { signal, context: { userId: 'u2', verified: false } })
 * if (result.status === 'failed') console.error(result.error?.code, result.error?.details?.['state'])
 * for (const t of result.transitions) console.log(`${t.from} → ${t.to ?? 'done'} after ${t.durationMs} ms`)
 */
export async function runStateMachine<C, S extends string>(machine: StateMachine<C, S>, options: RunStateMachineOptions<C, S> = {}): Promise<StateMachineResult<C, S>> {
  if (!isStateMachine(machine)) throw new TaskweaveError('TW_INVALID_OPTION', `runStateMachine() takes a machine made by defineStateMachine(); received ${machine === null ? 'null' : typeof machine}`, { retryable: false })
  refuseUnknownOptions('runStateMachine', options, ['signal', 'clock', 'context', 'onTransition'])
  const states = resolvedStates(machine)
  const clock = options.clock ?? systemClock
  const signal = options.signal
  const startedAt = clock.now()
  const transitions: Transition<S>[] = []
  let context = options.context !== undefined ? options.context : machine.context
  let state = machine.initial

  const end = (status: StateMachineResult['status'], error?: unknown): StateMachineResult<C, S> => {
    const finishedAt = clock.now()
    return {
      status,
      finalState: state,
      context,
      transitions,
      ...(error !== undefined ? { error: serializeError(error) } : {}),
      startedAt,
      finishedAt,
      durationMs: finishedAt - startedAt,
    }
  }
  // A bare abort() gives a DOMException: wrap it so the error still carries TW_CANCELLED. A
  // reason of the engine's own (a task's timeout, a cancel) keeps its code, and says the state too.
  const cancelled = (reason: unknown): StateMachineResult<C, S> =>
    end(
      'cancelled',
      TaskweaveError.is(reason)
        ? new TaskweaveError(reason.code, `state machine "${machine.name}" stopped in state "${state}": ${reason.message}`, { cause: reason, retryable: reason.retryable, details: { ...reason.details, state } })
        : new CancelledError(`state machine "${machine.name}" was cancelled in state "${state}"`, { cause: reason, details: { state } }),
    )

  let sinceYield = 0
  for (;;) {
    if (signal?.aborted === true) return cancelled(signal.reason)
    const spec = states.get(state) as ResolvedState<C, S> // every name reaching here was checked
    const enteredAt = clock.now()
    let seen: readonly Transition<S>[] | undefined
    const history = (): readonly Transition<S>[] => (seen ??= transitions.slice())
    let attempt = 0
    let step: unknown
    for (;;) {
      attempt++
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0
        await nextMacrotask()
        // Read through a function: TypeScript would keep the narrowing from the loop's top across the await.
        if (isAborted(signal)) return cancelled(signal?.reason)
      }
      const outcome = await runAttempt(spec, { state, context, attempt, history }, clock, signal)
      if (outcome.kind === 'stepped') {
        step = outcome.value
        break
      }
      if (outcome.kind === 'cancelled') return cancelled(outcome.reason)
      const error = toReportable(outcome.error, 'TW_FSM_STATE_FAILED', `state "${state}" of "${machine.name}" threw an unreadable value`)
      if (attempt < spec.maxAttempts && isRetryable(error)) {
        if (spec.delayMs > 0) {
          try {
            await sleep(clock, spec.delayMs, signal)
          } catch (reason) {
            return cancelled(reason)
          }
        }
        continue
      }
      if (outcome.timedOut) return end('failed', error)
      return end('failed', new StateMachineError('TW_FSM_STATE_FAILED', `state "${state}" of "${machine.name}" failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${readThrown(error).message}`, {
        state,
        cause: error,
        details: { attempts: attempt },
      }))
    }

    const parsed = parseStep<C>(step)
    if (parsed === undefined || (parsed.next !== null && !states.has(parsed.next))) {
      const what = parsed === undefined ? `returned ${describeStep(step)}, which is no step` : `named the unknown state "${String(parsed.next)}"`
      return end('failed', new StateMachineError('TW_FSM_UNKNOWN_STATE', `state "${state}" of "${machine.name}" ${what}; return one of ${listStates(states.keys())}, { next, context } or DONE (null)`, {
        state,
        details: { next: parsed?.next ?? describeStep(step), known: [...states.keys()] },
      }))
    }
    if (transitions.length >= machine.maxTransitions) {
      return end('failed', new StateMachineError('TW_FSM_MAX_TRANSITIONS', `state machine "${machine.name}" made ${machine.maxTransitions} transitions (maxTransitions) and state "${state}" asked for another`, {
        state,
        details: { maxTransitions: machine.maxTransitions, next: parsed.next },
      }))
    }
    if (parsed.hasContext) context = parsed.context as C
    const at = clock.now()
    const transition: Transition<S> = { from: state, to: parsed.next as S | null, at, durationMs: at - enteredAt, attempts: attempt }
    transitions.push(transition)
    try {
      options.onTransition?.(transition, context)
    } catch {
      // An observer's bug must not change how the machine ends.
    }
    if (parsed.next === null) return end('succeeded')
    state = parsed.next as S
  }
}

/** One attempt of one state: settles with the first of its step, its error, its timeout or the machine's abort. */
function runAttempt<C, S extends string>(
  spec: ResolvedState<C, S>,
  view: { readonly state: S; readonly context: C; readonly attempt: number; readonly history: () => readonly Transition<S>[] },
  clock: Clock,
  machineSignal: AbortSignal | undefined,
): Promise<AttemptOutcome> {
  // The attempt's AbortController is made only when the step reads `ctx.signal` or sleeps: most
  // synchronous steps never do, and one controller per attempt was most of a long machine's cost.
  let controller: AbortController | undefined
  let abortReason: { readonly reason: unknown } | undefined
  const signalOf = (): AbortSignal => {
    controller ??= new AbortController()
    if (abortReason !== undefined && !controller.signal.aborted) controller.abort(abortReason.reason)
    return controller.signal
  }
  let cancelTimer: (() => void) | undefined
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false
    const settle = (outcome: AttemptOutcome): void => {
      if (settled) return
      settled = true
      cancelTimer?.()
      machineSignal?.removeEventListener('abort', onMachineAbort)
      resolve(outcome)
    }
    const abort = (reason: unknown, outcome: AttemptOutcome): void => {
      abortReason = { reason }
      controller?.abort(reason)
      settle(outcome)
    }
    const onMachineAbort = (): void => {
      const reason: unknown = machineSignal?.reason
      abort(reason, { kind: 'cancelled', reason })
    }
    // Aborted since the machine last looked (between a failed attempt and its retry, say): this
    // attempt does not run at all, and its step never sees a live signal.
    if (machineSignal?.aborted === true) {
      onMachineAbort()
      return
    }
    machineSignal?.addEventListener('abort', onMachineAbort, { once: true })
    if (spec.timeoutMs !== undefined) {
      const timeoutMs = spec.timeoutMs
      // Through setClockTimer: an injected clock need not hold a delay past 2^31 ms (a '30d' timeout).
      cancelTimer = setClockTimer(clock, timeoutMs, () => {
        const error = new TimeoutError(`state "${view.state}" timed out after ${timeoutMs} ms (attempt ${view.attempt})`, { details: { state: view.state, attempt: view.attempt, timeoutMs } })
        abort(error, { kind: 'threw', error, timedOut: true })
      })
    }
    const ctx: StateContext<C, S> = {
      state: view.state,
      context: view.context,
      get signal() {
        return signalOf()
      },
      attempt: view.attempt,
      get transitions() {
        return view.history()
      },
      sleep: (duration) => sleep(clock, toMs('duration', duration), signalOf()),
    }
    let result: Promise<unknown>
    try {
      result = Promise.resolve(spec.run(ctx))
    } catch (error) {
      result = Promise.reject(error)
    }
    result.then(
      (value) => settle({ kind: 'stepped', value }),
      (error: unknown) => settle({ kind: 'threw', error, timedOut: false }),
    )
  })
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

type ParsedStep<C> = { readonly next: string | null; readonly hasContext: boolean; readonly context?: C }

// A step is user data: reading it (`in`, a `next` or `context` getter, a revoked Proxy) may throw.
function parseStep<C>(step: unknown): ParsedStep<C> | undefined {
  try {
    return readStep<C>(step)
  } catch {
    return undefined
  }
}

function readStep<C>(step: unknown): ParsedStep<C> | undefined {
  if (step === null || typeof step === 'string') return { next: step, hasContext: false }
  if (typeof step === 'object' && 'next' in step) {
    const { next } = step
    if (next !== null && typeof next !== 'string') return undefined
    // `context: undefined` means "keep the context", so an optional field can be passed through.
    const context = (step as { context?: C }).context
    return context !== undefined ? { next, hasContext: true, context } : { next, hasContext: false }
  }
  return undefined
}

function describeStep(step: unknown): string {
  if (step === undefined) return 'undefined'
  if (typeof step === 'object') {
    try {
      return Array.isArray(step) ? 'an array' : 'an object without a readable "next"'
    } catch {
      return 'an unreadable value (a revoked Proxy)'
    }
  }
  return `a ${typeof step}`
}
