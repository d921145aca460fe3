/**
 * Shared by the CLI commands: read a workflow file, load its tool modules, compile it.
 *
 * `run` imports the modules of the file's `tools:` list, confined to the workflow's directory (or
 * directories allowed with `--allow-tools-from`). `validate` and `viz` never import them: a file
 * is checked without running code from it, and the tools those modules would define are reported
 * as unchecked. Modules given with `--tools` are the user's own choice and load in every command.
 * @module
 */
import { dirname, resolve } from 'node:path'
import { ToolRegistry } from '../core/registry.js'
import { builtinTools } from '../tools/index.js'
import { compileWorkflow } from '../workflow/compile.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { readWorkflowFile, toolModulesOf } from '../workflow/load.js'
import { loadToolModule } from './load-tools.js'
import { confineWorkflowToolModule } from './tool-module-path.js'
import { UncheckedToolRegistry } from './unchecked-tools.js'
import type { UncheckedReport } from './unchecked-tools.js'

/** How a command treats the file's own tool modules. */
export interface PrepareOptions {
  /** Modules given with `--tools` (relative to the working directory). */
  readonly toolModules: readonly string[]
  /** `load`: import the file's modules (confined); `skip`: do not, and report what went unchecked. */
  readonly fileModules: 'load' | 'skip'
  /** Directories besides the workflow's own from which the file's modules may load. */
  readonly allowToolsFrom?: readonly string[]
}

/** A compiled workflow, and what was not checked when the file's modules were skipped. */
export interface PreparedWorkflow {
  readonly workflow: CompiledWorkflow
  readonly unchecked?: UncheckedReport
}

/** Where tool modules register their tools: an engine, or a bare registry for commands that run nothing. */
export interface ToolsTarget {
  readonly registry: ToolRegistry
  /** `llm.chat` joins the registry only when the file uses it (its module is not loaded for nothing). */
  readonly chatOnDemand?: boolean
}

/**
 * The tools of an engine made with `createEngine()`'s defaults (the built-ins, fs rooted at the
 * working directory), without the engine: `validate` and `viz` compile and run nothing, and so do
 * not load the engine's code at all.
 */
export function defaultToolsTarget(): ToolsTarget {
  return { registry: new ToolRegistry(builtinTools()), chatOnDemand: true }
}

/** Whether a parsed workflow names `tool` in one of its tasks (a shallow look: tasks added at run time are not known here). */
function namesTool(value: unknown, tool: string): boolean {
  const tasks = (value as { tasks?: unknown } | null)?.tasks
  return Array.isArray(tasks) && tasks.some((task) => (task as { tool?: unknown } | null)?.tool === tool)
}

/** Reads `file`, loads tool modules as `options` say, and compiles it. */
export async function prepareWorkflow(target: ToolsTarget, file: string, options: PrepareOptions): Promise<PreparedWorkflow> {
  const parsed = await readWorkflowFile(file)
  if (target.chatOnDemand === true && target.registry.get('llm.chat') === undefined && namesTool(parsed.value, 'llm.chat')) {
    const { createChatTool } = await import('../llm/chat/index.js')
    target.registry.register(createChatTool({ preloadTokenizer: false }))
  }
  // A module the file names that was also given with --tools is loaded already: not unchecked.
  // Both are paths to their loaders (--tools from here, the file's from its folder), `x.mjs` too.
  const given = new Set(options.toolModules.map((module) => resolve(process.cwd(), module)))
  const fileModules = toolModulesOf(parsed, file).filter((module) => !given.has(resolve(dirname(resolve(file)), module)))
  for (const module of options.toolModules) await loadToolModule(module, process.cwd(), target.registry)
  if (options.fileModules === 'load' || fileModules.length === 0) {
    const absolute = fileModules.map((module) => confineWorkflowToolModule(module, file, options.allowToolsFrom ?? []))
    for (const [i, module] of absolute.entries()) await loadToolModule(module, '/', target.registry, { shownAs: fileModules[i] ?? module })
    return { workflow: compileWorkflow(parsed.value, { registry: target.registry, file, locate: parsed.locate }) }
  }
  const registry = new UncheckedToolRegistry(target.registry)
  const workflow = compileWorkflow(parsed.value, { registry, file, locate: parsed.locate })
  return { workflow, unchecked: { modules: fileModules, tools: registry.unchecked } }
}
