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

/** Which built-in tools to register, and their options; `false` for none. */
export type BuiltinsOption = (BuiltinToolOptions & { readonly llm?: ChatToolOptions | false }) | false

/** A registry with the built-in tools (per `builtins`) and then `tools`. */
export function buildToolRegistry(builtins: BuiltinsOption | undefined, tools: Iterable<AnyTool> | undefined): ToolRegistry {
  const registry = new ToolRegistry()
  if (builtins !== false) {
    for (const tool of builtinTools(builtins ?? {})) registry.register(tool)
    const llm = builtins?.llm
    // The tokenizer loads on the first call that needs it, not at start-up.
    if (llm !== false) registry.register(createChatTool({ preloadTokenizer: false, ...llm }))
  }
  for (const tool of tools ?? []) registry.register(tool)
  return registry
}
