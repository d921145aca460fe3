/**
 * `when` conditions in CEL (Common Expression Language) through `@marcbachmann/cel-js`: a
 * non-Turing-complete, side-effect-free language evaluated by walking a tree (no `eval`, no
 * `Function`), reading own keys only. The scope is `inputs` and `tasks.<id>.{status,output}`.
 *
 * Two guards keep one condition from blocking the event loop (and with it every other run):
 *
 * - **A cost meter.** Every node of the parsed tree (macro expansions included) is wrapped so that
 *   evaluating it costs one unit, plus one unit per {@link SIZE_UNIT} elements or characters of a
 *   list or string it yields (reading a large value, concatenating, `in`, `contains` are linear in
 *   it). Comprehensions nested over large lists thus exhaust the budget in milliseconds, and the
 *   condition fails with `TW_EXPRESSION` naming the task and the condition. Once spent, the meter
 *   stays spent for the rest of the evaluation, so cel-js's error absorption (`a || b`, `exists`)
 *   cannot turn it into a value.
 * - **RE2 for `matches()`.** cel-js uses the backtracking `RegExp`; CEL specifies RE2 (linear
 *   time). `matches` calls are evaluated with `re2js`, loaded synchronously on the first
 *   condition that contains one, so start-up never pays for it.
 *
 * cel-js itself loads with the first condition too, not with the package: most workflows have
 * none. See {@link loadConditionLanguage}.
 * @module
 */
import { describeThrown } from '../core/thrown.js'
import { createRequire } from 'node:module'
import type * as Cel from '@marcbachmann/cel-js'
import type { RE2JS } from 're2js'
import { TaskweaveError } from '../core/errors.js'

/** A parsed condition. */
export interface CompiledCondition {
  readonly source: string
  /** Ids of tasks the condition reads (they become dependencies). */
  readonly taskRefs: readonly string[]
  /** Names of inputs the condition reads outside `has(…)` (checked against the declared ones). */
  readonly inputRefs: readonly string[]
  /**
   * Evaluates to a boolean; throws `TW_EXPRESSION` when the result is not a boolean, a key is
   * missing, or the evaluation cost exceeds the budget.
   */
  evaluate(scope: Readonly<Record<string, unknown>>): boolean
}

/** Options of {@link compileCondition}. */
export interface ConditionOptions {
  /** The task the condition belongs to, named in evaluation errors. */
  readonly taskId?: string
  /**
   * Evaluation budget in cost units (one per node evaluated, plus one per {@link SIZE_UNIT}
   * elements or characters of each list or string produced). About 50 ms of work at the default.
   * @default DEFAULT_CONDITION_COST
   */
  readonly maxCost?: number
}

/** Default evaluation budget of a condition, in cost units (see {@link ConditionOptions.maxCost}). */
export const DEFAULT_CONDITION_COST = 1_000_000

/** Elements or characters of a list or string that cost one unit when a node yields it. */
export const SIZE_UNIT = 8

const TASK_REF = /\btasks\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]+)"|'([^']+)')\s*\])/g
const INPUT_REF = /\binputs\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]+)"|'([^']+)')\s*\])/g
/** `has(inputs.x)`: asking whether an input was given is no reference to it. */
const HAS_INPUT = /\bhas\s*\(\s*inputs\s*(?:\.\s*[A-Za-z_][A-Za-z0-9_]*|\[\s*(?:"[^"]+"|'[^']+')\s*\])\s*\)/g
const FORBIDDEN = /(?:\.|\[\s*["'])\s*(__proto__|constructor|prototype)\b/

let cel: typeof Cel | undefined

/**
 * Loads the CEL library, once; {@link compileCondition} then needs nothing more. Optional: the
 * first condition compiled loads it synchronously if it is not loaded yet (cel-js is an ES module,
 * and Node loads one synchronously since 20.19 and 22.12). Code that reads a workflow from a file
 * calls it first, when the file has a condition, so that file workflows work on earlier Nodes too.
 */
export async function loadConditionLanguage(): Promise<void> {
  cel ??= await import('@marcbachmann/cel-js')
}

// Where `require` cannot load an ES module (Node before 20.19 and 22.12), the import starts in the
// background as this module loads: it is ready for any condition compiled after the first await.
if (process.features.require_module !== true) loadConditionLanguage().catch(() => undefined)

function celLibrary(): typeof Cel {
  if (cel !== undefined) return cel
  try {
    cel = createRequire(import.meta.url)('@marcbachmann/cel-js') as typeof Cel
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err
    throw new TaskweaveError('TW_EXPRESSION', `conditions need the CEL library, and this Node (${process.version}) cannot load it synchronously: use Node ≥ 20.19 (or ≥ 22.12), or \`await loadConditionLanguage()\` (from taskweave/workflow) before compiling`, { retryable: false, cause: err })
  }
  return cel
}

/** Whether a workflow definition (as parsed from a file, not yet checked) has a task with a `when` condition. */
export function hasCondition(definition: unknown): boolean {
  const tasks = (definition as { tasks?: unknown } | null)?.tasks
  return Array.isArray(tasks) && tasks.some((task: unknown) => typeof (task as { when?: unknown } | null)?.when === 'string')
}

/** Parses a condition; throws `TW_EXPRESSION` with the parser's message when it is malformed. */
export function compileCondition(source: string, options: ConditionOptions = {}): CompiledCondition {
  const where = options.taskId === undefined ? '' : `task "${options.taskId}": `
  const forbidden = FORBIDDEN.exec(source)
  if (forbidden) throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}": "${forbidden[1]}" is not allowed`, { retryable: false })
  const maxCost = options.maxCost ?? DEFAULT_CONDITION_COST
  if (!(maxCost > 0)) throw new TaskweaveError('TW_INVALID_OPTION', `${where}option "maxCost" of condition "${source}" must be a positive number; received ${String(maxCost)}`, { retryable: false })
  // The two slips of someone used to the templates: a `{{ }}` around the expression, and a task
  // id with a "-" written after a dot (CEL reads `tasks.all-good` as `tasks.all - good`).
  if (source.includes('{{')) throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}": a condition is a CEL expression, written without {{ }} (e.g. tasks.fetch.output.count > 0)`, { retryable: false })
  for (const match of withoutStrings(source).matchAll(TASK_REF)) {
    const after = withoutStrings(source).slice((match.index ?? 0) + match[0].length)
    if (match[1] !== undefined && /^-[A-Za-z0-9_]/.test(after)) {
      const id = `${match[1]}${/^[-A-Za-z0-9_]+/.exec(after)?.[0] ?? ''}`
      throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}": an id with "-" is written tasks["${id}"] in a condition (tasks.${id} reads as a subtraction)`, { retryable: false })
    }
  }
  let program: Cel.ParseResult
  const { parse } = celLibrary()
  try {
    program = parse(source)
  } catch (err) {
    throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}" is malformed: ${firstLine(err)}`, { retryable: false, cause: err })
  }
  const meter: Meter = { left: 0 }
  instrument(program.ast as unknown as CelNode, meter)
  const taskRefs = new Set<string>()
  for (const match of withoutStrings(source).matchAll(TASK_REF)) {
    const id = match[1] ?? match[2] ?? match[3]
    if (id !== undefined) taskRefs.add(id)
  }
  const inputRefs = new Set<string>()
  for (const match of withoutStrings(source).replace(HAS_INPUT, 'true').matchAll(INPUT_REF)) {
    const name = match[1] ?? match[2] ?? match[3]
    if (name !== undefined) inputRefs.add(name)
  }
  const details = { ...(options.taskId === undefined ? {} : { taskId: options.taskId }), condition: source }
  return {
    source,
    taskRefs: [...taskRefs],
    inputRefs: [...inputRefs],
    evaluate(scope) {
      let result: unknown
      meter.left = maxCost
      try {
        result = program(scope)
      } catch (err) {
        if (meter.left < 0) throw overBudget(where, source, maxCost, details)
        throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}" failed: ${firstLine(err)}`, { retryable: false, cause: err, details })
      }
      if (meter.left < 0) throw overBudget(where, source, maxCost, details)
      if (typeof result !== 'boolean') {
        throw new TaskweaveError('TW_EXPRESSION', `${where}condition "${source}" must give true or false, gave ${typeof result}`, { retryable: false, details })
      }
      return result
    },
  }
}

function overBudget(where: string, source: string, maxCost: number, details: Readonly<Record<string, unknown>>): TaskweaveError {
  return new TaskweaveError('TW_EXPRESSION',
    `${where}condition "${source}" exceeded its evaluation budget of ${maxCost} steps (comprehensions over large lists or long strings); simplify it or compute the value in a task`,
    { retryable: false, details: { ...details, maxCost } })
}

// --- cost meter ---------------------------------------------------------------------------------

/** Remaining budget of the evaluation in progress; negative once spent. */
interface Meter { left: number }

type Evaluate = (ev: unknown, ast: unknown, ctx: unknown) => unknown

/** The parts of cel-js's (untyped) `ASTNode` the meter relies on. */
interface CelNode {
  readonly op: string
  readonly args: unknown
  readonly meta: { readonly evaluate: Evaluate; readonly alternate?: CelNode; readonly macro?: { readonly evaluate: Evaluate } }
  evaluate: Evaluate
}

// Accumulator nodes (and a comprehension step, which yields the accumulator) hand back the same
// growing list on every step: charging its size each time would make a plain `map()` quadratic in
// cost while its real work is linear.
const UNSIZED = new Set(['accuValue', 'accuPush', 'accuInc'])
const SPENT = new TaskweaveError('TW_EXPRESSION', 'evaluation budget spent', { retryable: false })

// Walks everything reachable from the root (arguments, comprehension parts, macro expansions)
// and replaces each node's `evaluate` with a metered one. cel-js's own `evaluate` replaces itself
// on first call with the resolved handler, so the wrapper resolves the handler itself each time.
function instrument(root: CelNode, meter: Meter): void {
  const NodeClass = (root as object).constructor
  const seen = new Set<object>()
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return
    seen.add(value)
    if (Array.isArray(value)) return value.forEach(visit)
    if (value.constructor === NodeClass) {
      const node = value as CelNode
      visit(node.args)
      visit(node.meta.alternate)
      visit(node.meta.macro)
      node.evaluate = metered(node, meter)
      return
    }
    // Comprehension arguments and macro records are plain objects; evaluation contexts are not.
    if (Object.getPrototypeOf(value) === Object.prototype) Object.values(value).forEach(visit)
  }
  visit(root)
}

function metered(node: CelNode, meter: Meter): Evaluate {
  const sized = !UNSIZED.has(node.op)
  const matcher = isMatchesCall(node) ? re2Matcher() : undefined
  return (ev, ast, ctx) => {
    if (--meter.left < 0) throw SPENT
    const meta = node.meta
    let result: unknown
    if (matcher !== undefined) result = matcher(node, ev, ctx)
    if (result === undefined) {
      if (meta.alternate !== undefined) result = meta.alternate.evaluate(ev, meta.alternate, ctx)
      else if (meta.macro !== undefined) result = meta.macro.evaluate(ev, meta.macro, ctx)
      else result = meta.evaluate(ev, ast, ctx)
    }
    if (sized && (typeof result === 'string' || Array.isArray(result)) && result !== (ctx as { accuValue?: unknown }).accuValue) {
      meter.left -= Math.floor(result.length / SIZE_UNIT)
      if (meter.left < 0) throw SPENT
    }
    return result
  }
}

// --- matches() through RE2 ----------------------------------------------------------------------

type Matcher = (node: CelNode, ev: unknown, ctx: unknown) => boolean | undefined

function isMatchesCall(node: CelNode): boolean {
  const args = node.args
  return node.op === 'rcall' && Array.isArray(args) && args[0] === 'matches' && Array.isArray(args[2]) && args[2].length === 1
}

let re2: typeof RE2JS | undefined

// Loaded on the first condition that calls `matches`: most workflows never pay for it.
function loadRe2(): typeof RE2JS {
  re2 ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS
  return re2
}

/**
 * Evaluates `s.matches(re)` with RE2 when both sides are strings; returns undefined otherwise,
 * so cel-js reports the type error in its own words. Keeps the last compiled pattern: patterns
 * are nearly always literals.
 */
function re2Matcher(): Matcher {
  const RE2 = loadRe2()
  let lastPattern: string | undefined
  let lastCompiled: RE2JS | undefined
  return (node, ev, ctx) => {
    const [, receiverNode, [patternNode]] = node.args as [string, CelNode, [CelNode]]
    const run = (ev as { run(ast: CelNode, ctx: unknown): unknown }).run.bind(ev)
    const receiver = run(receiverNode, ctx)
    const pattern = run(patternNode, ctx)
    if (typeof receiver !== 'string' || typeof pattern !== 'string') return undefined
    if (pattern !== lastPattern || lastCompiled === undefined) {
      try {
        lastCompiled = RE2.compile(pattern)
      } catch (err) {
        throw new TaskweaveError('TW_EXPRESSION', `invalid regular expression ${JSON.stringify(pattern)} (RE2 syntax): ${firstLine(err)}`, { retryable: false })
      }
      lastPattern = pattern
    }
    return lastCompiled.test(receiver)
  }
}

// --- helpers ------------------------------------------------------------------------------------

// Blanks out string literals so `"tasks.x"` inside a string is not taken for a reference; keeps
// quoted keys in `tasks["id"]` because the bracket form is matched before blanking would matter.
function withoutStrings(source: string): string {
  return source.replace(/(?<!\[\s*)(["'])(?:\\.|(?!\1).)*\1/g, '""')
}

function firstLine(err: unknown): string {
  let text: string
  try {
    text = describeThrown(err)
  } catch {
    text = 'unreadable error'
  }
  return text.split('\n')[0] ?? ''
}
