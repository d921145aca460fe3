/**
 * Loads user tool modules (`--tools ./my-tools.ts`, or a workflow's `tools:` list): every exported
 * tool (made with `defineTool`), or array of tools, joins the registry. TypeScript modules load
 * through tsx (see typescript-loader.ts), so no build step is needed. A module that cannot load is
 * reported with the reason and what to do about it.
 * @module
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { TaskweaveError } from '../core/errors.js'
import type { ToolRegistry } from '../core/registry.js'
import { isTool } from '../core/tool.js'
import type { AnyTool } from '../core/tool.js'
import { ensureTypeScriptLoader, TYPESCRIPT_MODULE } from './typescript-loader.js'
import type { TsxImporter } from './typescript-loader.js'

/** How {@link loadToolModule} names the module and imports tsx. */
export interface LoadToolModuleOptions {
  /** How messages name the module (as the user wrote it). @default the module path */
  readonly shownAs?: string
  /** Imports tsx (tests replace it). */
  readonly importTsx?: TsxImporter
}

/** Name prefixes of the built-in tools (`fs.readFile`, `http.fetch`, `llm.chat`…). */
const BUILTIN_PREFIXES: readonly string[] = ['fs.', 'http.', 'llm.']

/** Imports `modulePath` (relative to `baseDir`) and registers its tools; returns their names. */
export async function loadToolModule(modulePath: string, baseDir: string, registry: ToolRegistry, options: LoadToolModuleOptions = {}): Promise<string[]> {
  const shownAs = options.shownAs ?? modulePath
  const absolute = resolve(baseDir, modulePath)
  if (!existsSync(absolute)) {
    throw new TaskweaveError('TW_VALIDATION', `tool module "${shownAs}" does not exist (looked for ${absolute})`, { retryable: false })
  }
  if (TYPESCRIPT_MODULE.test(absolute)) await ensureTypeScriptLoader(shownAs, options.importTsx)
  let exports: Record<string, unknown>
  try {
    exports = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>
  } catch (err) {
    throw new TaskweaveError('TW_VALIDATION', `cannot load tool module "${shownAs}": ${explainLoadFailure(err)}`, { retryable: false, cause: err })
  }
  const tools: AnyTool[] = []
  for (const value of Object.values(exports)) {
    if (isTool(value)) tools.push(value)
    else if (Array.isArray(value)) for (const item of value) if (isTool(item)) tools.push(item)
  }
  if (tools.length === 0) throw new TaskweaveError('TW_VALIDATION', `tool module "${shownAs}" exports no tool (export values made with defineTool)`, { retryable: false })
  for (const tool of tools) {
    try {
      registry.register(tool)
    } catch (err) {
      // Name the module: the clash is with a built-in tool or one of another module given before.
      const builtin = BUILTIN_PREFIXES.some((prefix) => tool.name.startsWith(prefix))
      throw new TaskweaveError('TW_VALIDATION', `tool module "${shownAs}" exports a tool named "${tool.name}", and a different tool of that name is already loaded (${builtin ? 'a built-in tool: name yours otherwise' : 'by a built-in or a tool module given before this one: rename one of them'})`, { retryable: false, cause: err })
    }
  }
  return tools.map((tool) => tool.name)
}

/** The error's own words plus what usually fixes it. */
export function explainLoadFailure(err: unknown): string {
  const message = err instanceof Error ? firstLines(err.message) : String(err)
  const code = (err as { code?: unknown } | null)?.code
  const missingPackage = code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find package '([^']+)'/.exec(message ?? '')?.[1] : undefined
  if (missingPackage !== undefined) return `${message}. Install it in your project (npm i ${missingPackage})`
  if (code === 'ERR_MODULE_NOT_FOUND') return `${message}. Check the import paths in the module (relative imports need the file extension)`
  if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    return `${message}. The module was loaded as CommonJS; write it with import/export, or name it .mts (or .mjs)`
  }
  if (err instanceof SyntaxError) return `${message}. Fix the syntax error in the module`
  return message ?? String(err)
}

/**
 * The first line of a message, or the first two when the first only announces what follows (a
 * TypeScript transform's "Transform failed with 1 error:", whose next line names the file, line,
 * column and problem).
 */
function firstLines(message: string): string {
  const [first = '', second] = message.split('\n')
  return first.trimEnd().endsWith(':') && second !== undefined && second.trim() !== '' ? `${first} ${second.trim()}` : first
}
