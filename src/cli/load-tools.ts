/**
 * Loads user tool modules (`--tools ./my-tools.ts`, or a workflow's `tools:` list): every exported
 * tool (made with `defineTool`), or array of tools, joins the registry. TypeScript modules load
 * through tsx (see typescript-loader.ts), so no build step is needed. A module that cannot load is
 * reported with the reason and what to do about it.
 * @module
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
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
    const at = err instanceof SyntaxError && !TYPESCRIPT_MODULE.test(absolute) ? syntaxErrorLocation(absolute, err, shownAs) : undefined
    throw new TaskweaveError('TW_VALIDATION', `cannot load tool module "${shownAs}": ${at !== undefined ? `${at}: ` : ''}${explainLoadFailure(err, absolute)}`, { retryable: false, cause: err })
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

/**
 * Whether Node loads `file` as CommonJS: a `.cjs` file, or a `.js` file whose nearest
 * package.json does not say `"type": "module"` (one that cannot be read says nothing).
 */
function loadsAsCommonJs(file: string): boolean {
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type !== 'module'
      } catch {
        return true
      }
    }
    if (dirname(dir) === dir) return true
  }
}

/** The error's own words plus what usually fixes it; `file`, the module's absolute path, sharpens the advice. */
export function explainLoadFailure(err: unknown, file?: string): string {
  const message = err instanceof Error ? firstLines(err.message) : String(err)
  const code = (err as { code?: unknown } | null)?.code
  const missingPackage = code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find package '([^']+)'/.exec(message ?? '')?.[1] : undefined
  if (missingPackage !== undefined) return `${message}. Install it in your project (npm i ${missingPackage})`
  if (code === 'ERR_MODULE_NOT_FOUND') return `${message}. Check the import paths in the module (relative imports need the file extension)`
  if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    return `${message}. The module was loaded as CommonJS; write it with import/export, or name it .mts (or .mjs)`
  }
  if (err instanceof SyntaxError && file !== undefined && /Cannot use import statement outside a module|Unexpected token 'export'/.test(message) && loadsAsCommonJs(file)) {
    return file.endsWith('.cjs')
      ? `${message}: the module is written with import/export but is a .cjs file, which Node loads as CommonJS. Name it .mjs`
      : `${message}: the module is written with import/export but Node loads it as CommonJS (a .js file in a package without "type": "module"). Name it .mjs, or add "type": "module" to the package.json`
  }
  if (err instanceof SyntaxError) return `${message}. Fix the syntax error in the module`
  return message ?? String(err)
}

/**
 * Where a JavaScript module's syntax error is (`tools.mjs:2:25`): Node names the line in the stack
 * of a CommonJS module only, so an ES module is checked by `node --check`, which points at it
 * (only on this failure path, once).
 */
function syntaxErrorLocation(absolute: string, err: SyntaxError, shownAs: string): string | undefined {
  const fromStack = /^(.+):(\d+)$/.exec(err.stack?.split('\n')[0] ?? '')
  if (fromStack?.[1] === absolute) return `${shownAs}:${fromStack[2] as string}`
  const checked = spawnSync(process.execPath, ['--check', absolute], { encoding: 'utf8', timeout: 10_000 })
  const lines = (checked.stderr ?? '').split('\n')
  const at = /^(.+):(\d+)$/.exec(lines[0] ?? '')
  if (at?.[1] !== absolute) return undefined
  const caret = (lines[2] ?? '').indexOf('^')
  return `${shownAs}:${at[2] as string}${caret >= 0 ? `:${caret + 1}` : ''}`
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
