/**
 * A workflow of independent tool calls with flat inputs, compiled in one pass over the calls: the
 * shape of an executor batch of thousands of calls. The caller has already resolved each call's
 * tool and checked that its input is flat (see `isFlatInput`), so what is left per call is its
 * tool's schema check, its shape and its place in the id index: none of the fast task check, the
 * second look at the input, the dependency rows or the topological sort that `compileWorkflow`
 * spends on a definition it knows nothing about.
 *
 * The result is the same compiled workflow that `compileWorkflow` makes of the equivalent
 * definition (`{ id, tasks: [{ id, tool, input, description?, group?, timeout? }], limits? }`): the same
 * shapes, graph, snapshot and hash. Anything off this path returns undefined, and the caller
 * compiles the definition in full, which words the problem.
 * @module
 */
import type { AnyTool } from '../core/tool.js'
import type { RateKeyLimits } from '../core/rate-spec.js'
import { compiledWorkflowOf } from './compile.js'
import type { CompiledWorkflow } from './compile.js'
import { TaskCompileCache } from './compile-task.js'
import type { TaskShape } from './compile-task.js'
import { isPlainId } from './fast-task-check.js'
import { flatInputShape } from './flat-task.js'
import type { FlatTaskExtras } from './flat-task.js'
import { IdIndex } from './id-index.js'
import { TaskGraphBuilder } from './task-graph.js'

/** One call of a batch. */
export interface FlatCall {
  /** The task's id in the workflow. */
  readonly id: string
  /** The tool it calls (a tool of the registry the workflow will run with). */
  readonly tool: AnyTool
  /** An input `isFlatInput` accepted, with no inherited enumerable key (its tool's schema not yet asked). */
  readonly input: Readonly<Record<string, unknown>>
  /** The task's description, if any. */
  readonly description: string | undefined
}

/** The workflow around the calls. */
export interface FlatCallsWorkflow {
  /** The workflow's id. */
  readonly id: string
  /** A concurrency group every call joins, and its cap (`limits.groups`). */
  readonly group?: { readonly name: string; readonly cap: number } | undefined
  /** Every call's timeout in ms (each task's `timeout`). */
  readonly timeoutMs?: number | undefined
  /**
   * The caller made the calls' ids itself, valid and distinct (`t0`, `t1`, …): they are not
   * checked, and the id index is built only if a run looks a task up by id.
   */
  readonly distinctIds?: boolean
}

/**
 * Compiles `calls` as one workflow of independent tasks. Undefined when a call's id is not a
 * valid id or repeats one, or when a tool's schema rejects its input.
 */
export function compileFlatCalls(calls: readonly FlatCall[], workflow: FlatCallsWorkflow): CompiledWorkflow | undefined {
  const size = calls.length
  const group = workflow.group?.name
  const timeout = workflow.timeoutMs
  const ids: string[] = []
  const shapes: TaskShape[] = []
  const distinct = workflow.distinctIds === true
  const indexById = distinct ? IdIndex.ofDistinct(ids, size) : new IdIndex(ids, size)
  const graph = new TaskGraphBuilder(size)
  // The shapes take the timeout as a default would give it; the workflow itself has no defaults
  // (a task a tool adds gets none, as with a timeout on each task).
  const cache = new TaskCompileCache(timeout === undefined ? undefined : { timeout })
  const order = new Int32Array(size)
  let extras: Map<number, FlatTaskExtras> | undefined
  for (let i = 0; i < size; i++) {
    const call = calls[i] as FlatCall
    const id = call.id
    ids.push(id)
    if (!distinct && (!isPlainId(id) || indexById.add(i) >= 0)) return undefined
    const shape = flatInputShape(call.tool, call.input, cache, undefined, group, undefined)
    if (shape === undefined) return undefined
    shapes.push(shape)
    graph.endRow()
    order[i] = i
    if (call.description !== undefined || group !== undefined || timeout !== undefined) (extras ??= new Map()).set(i, { description: call.description, priority: undefined, group, cost: undefined, timeout })
  }
  const groups: Record<string, number> = workflow.group === undefined ? {} : { [workflow.group.name]: workflow.group.cap }
  const shell = workflow.group === undefined ? { id: workflow.id } : { id: workflow.id, limits: { groups } }
  return compiledWorkflowOf(
    {
      id: workflow.id,
      version: undefined,
      name: undefined,
      file: undefined,
      size,
      ids,
      shapes,
      graph: graph.finish(),
      topoOrder: order,
      indexById,
      inputs: {},
      concurrency: undefined,
      groups,
      rates: NO_RATES,
      budget: undefined,
      failFast: false,
      defaults: undefined,
    },
    JSON.stringify(shell),
    { texts: undefined, hints: undefined, flat: extras },
  )
}

const NO_RATES: ReadonlyMap<string, RateKeyLimits> = new Map()
