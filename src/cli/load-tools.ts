/**
 * Loads user tool modules (`--tools ./my-tools.ts`, or a workflow's `tools:` list): every exported
 * tool (made with `defineTool`), or array of tools, joins the registry. TypeScript modules load
 * through tsx, so no build step is needed.
 * @module
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { TaskweaveError } from '../core/errors.js'
import type { ToolRegistry } from '../core/registry.js'
import { isTool } from '../core/tool.js'
import type { AnyTool } from '../core/tool.js'

let tsxRegistered = false

/**
 * Imports `modulePath` (relative to `baseDir`) and registers its tools; returns their names.
 * Messages name the module as `shownAs` (how the user wrote it).
 */
export async function loadToolModule(modulePath: string, baseDir: string, registry: ToolRegistry, shownAs = modulePath): Promise<string[]> {
  const absolute = resolve(baseDir, modulePath)
  if (!existsSync(absolute)) {
    throw new TaskweaveError('TW_VALIDATION', `tool module "${shownAs}" does not exist (looked for ${absolute})`, { retryable: false })
  }
  if (/\.(c|m)?tsx?$/.test(absolute) && !tsxRegistered) {
    const { register } = await import('tsx/esm/api')
    register()
    tsxRegistered = true
  }
  let exports: Record<string, unknown>
  try {
    exports = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>
  } catch (err) {
    throw new TaskweaveError('TW_VALIDATION', `cannot load tool module "${shownAs}": ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err })
  }
  const tools: AnyTool[] = []
  for (const value of Object.values(exports)) {
    if (isTool(value)) tools.push(value)
    else if (Array.isArray(value)) for (const item of value) if (isTool(item)) tools.push(item)
  }
  if (tools.length === 0) throw new TaskweaveError('TW_VALIDATION', `tool module "${shownAs}" exports no tool (export values made with defineTool)`, { retryable: false })
  for (const tool of tools) registry.register(tool)
  return tools.map((tool) => tool.name)
}
