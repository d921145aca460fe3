/**
 * `when` conditions in CEL (Common Expression Language) through `@marcbachmann/cel-js`: a
 * non-Turing-complete, side-effect-free language evaluated by walking a tree (no `eval`, no
 * `Function`), reading own keys only. The scope is `inputs` and `tasks.<id>.{status,output}`.
 * @module
 */
import { parse } from '@marcbachmann/cel-js'
import { TaskweaveError } from '../core/errors.js'

/** A parsed condition. */
export interface CompiledCondition {
  readonly source: string
  /** Ids of tasks the condition reads (they become dependencies). */
  readonly taskRefs: readonly string[]
  /** Evaluates to a boolean; throws `TW_EXPRESSION` when the result is not a boolean or a key is missing. */
  evaluate(scope: Readonly<Record<string, unknown>>): boolean
}

const TASK_REF = /\btasks\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]+)"|'([^']+)')\s*\])/g
const FORBIDDEN = /(?:\.|\[\s*["'])\s*(__proto__|constructor|prototype)\b/

/** Parses a condition; throws `TW_EXPRESSION` with the parser's message when it is malformed. */
export function compileCondition(source: string): CompiledCondition {
  const forbidden = FORBIDDEN.exec(source)
  if (forbidden) throw new TaskweaveError('TW_EXPRESSION', `condition "${source}": "${forbidden[1]}" is not allowed`, { retryable: false })
  let program: ReturnType<typeof parse>
  try {
    program = parse(source)
  } catch (err) {
    throw new TaskweaveError('TW_EXPRESSION', `condition "${source}" is malformed: ${firstLine(err)}`, { retryable: false, cause: err })
  }
  const taskRefs = new Set<string>()
  for (const match of withoutStrings(source).matchAll(TASK_REF)) {
    const id = match[1] ?? match[2] ?? match[3]
    if (id !== undefined) taskRefs.add(id)
  }
  return {
    source,
    taskRefs: [...taskRefs],
    evaluate(scope) {
      let result: unknown
      try {
        result = program(scope)
      } catch (err) {
        throw new TaskweaveError('TW_EXPRESSION', `condition "${source}" failed: ${firstLine(err)}`, { retryable: false, cause: err })
      }
      if (typeof result !== 'boolean') {
        throw new TaskweaveError('TW_EXPRESSION', `condition "${source}" must give true or false, gave ${typeof result}`, { retryable: false })
      }
      return result
    },
  }
}

// Blanks out string literals so `"tasks.x"` inside a string is not taken for a reference; keeps
// quoted keys in `tasks["id"]` because the bracket form is matched before blanking would matter.
function withoutStrings(source: string): string {
  return source.replace(/(?<!\[\s*)(["'])(?:\\.|(?!\1).)*\1/g, '""')
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
}
