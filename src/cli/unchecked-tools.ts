/**
 * Checking a workflow without running its code. `validate` and `viz` do not import the tool modules
 * a workflow file names (importing a module runs it). The tools those modules would define are
 * then unknown, so a task naming a tool that is neither built in nor loaded with `--tools` is
 * recorded as *unchecked* instead of rejected, and the command says so. A workflow that names no
 * module gets the usual "unknown tool" error.
 * @module
 */
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import type { AnyTool } from '../core/tool.js'
import { terminalSafe } from './terminal-text.js'

/**
 * A registry over `base` that answers every unknown name with a stand-in tool accepting any input,
 * and remembers the names it stood in for.
 */
export class UncheckedToolRegistry extends ToolRegistry {
  readonly #base: ToolRegistry
  readonly #standIns = new Map<string, AnyTool>()

  constructor(base: ToolRegistry) {
    super()
    this.#base = base
  }

  /** Tool names the workflow uses that no loaded module defines, sorted. */
  get unchecked(): string[] {
    return [...this.#standIns.keys()].sort()
  }

  override get(name: string): AnyTool | undefined {
    const known = this.#base.get(name)
    if (known !== undefined) return known
    let standIn = this.#standIns.get(name)
    if (standIn === undefined) this.#standIns.set(name, (standIn = standInTool(name)))
    return standIn
  }

  override has(name: string): boolean {
    return this.get(name) !== undefined
  }

  override names(): string[] {
    return this.#base.names()
  }

  override list(): AnyTool[] {
    return this.#base.list()
  }

  override register(tool: AnyTool): this {
    this.#base.register(tool)
    return this
  }
}

function standInTool(name: string): AnyTool {
  return defineTool({
    name,
    input: z.unknown(),
    run: () => {
      throw new TaskweaveError('TW_UNKNOWN_TOOL', `tool "${name}" was not loaded (its module was not imported)`, { retryable: false })
    },
  })
}

/** What `validate` and `viz` say about the modules they did not load. */
export interface UncheckedReport {
  /** Module paths from the workflow file's `tools:` list, as written. */
  readonly modules: readonly string[]
  /** Tool names the tasks use that none of the loaded tools define. */
  readonly tools: readonly string[]
}

/** The note printed after a check, or undefined when nothing was left unchecked. */
export function uncheckedNote(report: UncheckedReport | undefined): string | undefined {
  if (report === undefined || report.modules.length === 0) return undefined
  const modules = report.modules.map((m) => `"${m}"`).join(', ')
  const tools = report.tools.length > 0 ? `; tools not checked: ${report.tools.join(', ')}` : ''
  return terminalSafe(`note: tool module${report.modules.length === 1 ? '' : 's'} ${modules} named in the file ${report.modules.length === 1 ? 'was' : 'were'} not loaded (checking a file runs no code from it; pass them with --tools to check them)${tools}`)
}
