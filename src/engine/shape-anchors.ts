/**
 * One object of each class on a run's path, kept for the life of the process, so that V8 keeps
 * those classes' hidden classes (maps) and the optimized code that depends on them.
 *
 * An instance gets its final map through transitions from its constructor's first map, and V8
 * holds transitions weakly: when no instance of a class is alive at a full collection (an engine
 * idle between runs, a service between requests), its maps are freed, and every optimized
 * function that checked them is thrown away with them. `node --trace-deopt` shows it as "marking
 * dependent code … reason: weak objects", for the engine's whole dispatch path at once (the run,
 * its state and ready queue, the attempt and its tool context, the compiler's builders, a batch
 * call's input, a limiter key's state). The next run then starts in unoptimized code and pays to
 * optimize it all again: in the `sleep` benchmark the third run after a collection took a median
 * 2 ms longer (210.4 against 208.4 ms) than with the maps kept.
 *
 * The objects are made once, in the event loop's turn after the process's first run ends (by
 * then the fields of these classes hold the kinds of values they will hold), from inert values:
 * an empty workflow, a run never started, an attempt of no task. They hold nothing of any engine
 * or run.
 * @module
 */
import { systemClock } from '../core/clock.js'
import { silentLogger } from '../core/logger.js'
import { keyStateExample } from '../scheduler/keyed-limiter.js'
import { bucketExample } from '../scheduler/ready-queue.js'
import { TaskCompileCache } from '../workflow/compile-task.js'
import type { TaskShape } from '../workflow/compile-task.js'
import { compileFlatCalls } from '../workflow/flat-calls.js'
import { FlatInput } from '../workflow/flat-task.js'
import { IdIndex } from '../workflow/id-index.js'
import { TaskGraphBuilder } from '../workflow/task-graph.js'
import { EventEmitter } from '../observe/emitter.js'
import { LocalAttemptRunner } from './local-runner.js'
import { LocalToolContext } from './local-tool-context.js'
import { RunAttempt } from './run-attempt.js'
import { RunExecution } from './run.js'
import { TaskExtra } from './run-state.js'
import type { RunEnvironment } from './run-types.js'

/** The kept objects (never read: holding them is the point). */
let anchors: readonly object[] | undefined

let scheduled = false

/**
 * {@link keepRunShapes} in a later turn of the event loop, once: called when a run ends, so the
 * process's first result is not held back by making them (about 0.35 ms in a fresh process,
 * where every constructor runs for the first time). A collection comes well after that turn in
 * any process that waits for anything.
 */
export function keepRunShapesSoon(): void {
  if (scheduled) return
  scheduled = true
  // Unreferenced: a process that has nothing else to do exits without waiting for it.
  setImmediate(() => {
    try {
      keepRunShapes()
    } catch {
      // An optimisation only: it never takes the host process down.
    }
    // Not made (it failed): the next run to end tries again.
    scheduled = anchors !== undefined
  }).unref()
}

/** Makes the objects on the first call; later calls do nothing. */
export function keepRunShapes(): void {
  if (anchors !== undefined) return
  const workflow = compileFlatCalls([], { id: 'shapes' })
  if (workflow === undefined) return
  // A run is made, never started: its constructor reads the clock only.
  const env = { clock: systemClock } as unknown as RunEnvironment
  const run = new RunExecution(workflow, env, { inputs: {}, concurrency: 1, failFast: false, runId: 'shapes', budget: undefined, signal: undefined, onTaskComplete: undefined, groupScope: undefined }, new EventEmitter())
  const shape = { toolName: 'shapes' } as unknown as TaskShape
  const attempt = new RunAttempt(run, 0, 0, 'shapes', 1, shape, undefined, undefined, undefined)
  const runner = new LocalAttemptRunner({ lookup: () => undefined, clock: systemClock, logger: silentLogger })
  // The run holds its RunState and ReadyQueue; a bucket is made only by a push.
  anchors = [
    run,
    bucketExample(),
    keyStateExample(),
    new TaskExtra(),
    attempt,
    runner,
    new LocalToolContext(attempt, attempt, runner),
    new TaskCompileCache(undefined),
    new TaskGraphBuilder(0),
    new IdIndex([], 0),
    new FlatInput(Object.freeze({})),
  ]
}
