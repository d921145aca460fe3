/**
 * The tools an engine (or a worker process) can call: the built-in ones unless turned off, then
 * the caller's. One function, so a worker resolves a tool name exactly as the engine that owns
 * the run does.
 * @module
 */
import type { AnyTool } from '../core/tool.js'
import { ToolRegistry } from '../core/registry.js'
import { createChatTool } from '../llm/chat/index.js'
import type { ChatToolOptions } from '../llm/chat/index.js'
import { builtinTools } from '../tools/index.js'
import type { BuiltinToolOptions } from '../tools/index.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import { InvalidOptionError } from '../core/errors.js'
import { FS_TOOL_OPTION_NAMES } from '../tools/fs/options.js'
import { HTTP_TOOL_OPTION_NAMES } from '../tools/http/options.js'
import { CHAT_TOOL_OPTION_NAMES } from '../llm/chat/options.js'

/** Which built-in tools to register, and their options; `false` for none. */
export type BuiltinsOption = (BuiltinToolOptions & { readonly llm?: ChatToolOptions | false }) | boolean

/**
 * A registry with the built-in tools (per `builtins`) and then `tools`. `where` names the caller
 * (`createEngine`) in the error an unknown `builtins` option gets.
 */
export function buildToolRegistry(given: BuiltinsOption | undefined, tools: Iterable<AnyTool> | undefined, where: string): ToolRegistry {
  const registry = new ToolRegistry()
  // `true` is the default said out loud: every built-in with its defaults.
  const builtins = given === true ? undefined : given
  if (builtins !== undefined && builtins !== false) checkBuiltins(builtins, where)
  if (builtins !== false) {
    const { llm, ...others } = builtins ?? {}
    for (const tool of builtinTools(others)) registry.register(tool)
    // The tokenizer loads on the first call that needs it, not at start-up.
    if (llm !== false) registry.register(createChatTool({ preloadTokenizer: false, ...llm }))
  }
  for (const tool of tools ?? []) registry.register(tool)
  return registry
}

/** Refuses names `builtins` and its parts do not know, as the caller wrote them (`builtins.llm.baseUrl`). */
function checkBuiltins(builtins: Exclude<BuiltinsOption, boolean>, where: string): void {
  if (typeof builtins !== 'object' || builtins === null) throw new InvalidOptionError('builtins', 'true, false or an object of { fs, http, llm } options', builtins)
  refuseUnknownOptions(where, builtins, ['fs', 'http', 'llm'], 'builtins.')
  const parts: readonly [string, unknown, readonly string[]][] = [
    ['fs', builtins.fs, FS_TOOL_OPTION_NAMES],
    ['http', builtins.http, HTTP_TOOL_OPTION_NAMES],
    ['llm', builtins.llm, CHAT_TOOL_OPTION_NAMES],
  ]
  for (const [name, options, known] of parts) {
    if (options === undefined || (name === 'llm' && options === false)) continue
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`builtins.${name}`, name === 'llm' ? 'false or an object of options' : 'an object of options', options)
    refuseUnknownOptions(where, options, known, `builtins.${name}.`)
  }
}
