/** One MCP tool as a taskweave tool: its name, input schema, hints and call. @module */
import type { Tool as McpToolDescriptor } from '@modelcontextprotocol/sdk/types.js'
import { defineTool, TOOL_NAME } from '../../core/tool.js'
import type { AnyTool, ToolContext } from '../../core/tool.js'
import type { McpConnection } from './connection.js'
import { inputSchemaOf } from './input-schema.js'
import { outputOf, toolError } from './result.js'

/** How the tools of one server are made. */
export interface McpToolSettings {
  readonly prefix: string
  readonly timeoutMs: number
  /** For every tool of the server, instead of its annotations. */
  readonly idempotent: boolean | undefined
  readonly maxOutputBytes: number | undefined
}

/** `name` with every character a tool name cannot hold replaced by `-`. */
export function toolNamePart(name: string): string {
  return name.replace(/[^\w.-]/g, '-')
}

/** The taskweave name of an MCP tool, or why it has none. */
export function taskweaveName(prefix: string, descriptor: McpToolDescriptor): { readonly name: string } | { readonly reason: string } {
  const name = `${prefix}${toolNamePart(descriptor.name)}`
  if (!TOOL_NAME.test(name)) return { reason: `"${name}" is not a valid tool name (letters, digits, "_", "." and "-", at most 128, starting with a letter)` }
  return { name }
}

/**
 * Whether calling the tool twice with the same input is harmless, from its annotations as MCP
 * defines them: a read-only tool is, another only when it says it is idempotent (the hints'
 * defaults: not read-only, not idempotent). A tool that is not runs at most once per task in a
 * durable run (after a crash during the call the task fails `TW_UNCERTAIN`, or waits, as its
 * `onUncertain` says), unless the task says `idempotent: true`.
 */
function idempotentOf(descriptor: McpToolDescriptor): boolean {
  const hints = descriptor.annotations
  return hints?.readOnlyHint === true || hints?.idempotentHint === true
}

/** The taskweave tool `name` that calls `descriptor` on `connection`. */
export function mcpTool(name: string, descriptor: McpToolDescriptor, connection: McpConnection, settings: McpToolSettings): AnyTool {
  const description = descriptor.description ?? descriptor.title ?? descriptor.annotations?.title
  return defineTool({
    name,
    ...(description !== undefined ? { description } : {}),
    input: inputSchemaOf(descriptor.inputSchema),
    idempotent: settings.idempotent ?? idempotentOf(descriptor),
    ...(settings.maxOutputBytes !== undefined ? { maxOutputBytes: settings.maxOutputBytes } : {}),
    async run(input: unknown, ctx: ToolContext): Promise<unknown> {
      const args = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>
      const result = await connection.call(descriptor.name, args, {
        signal: ctx.signal,
        timeoutMs: settings.timeoutMs,
        onProgress: (progress, total, message) => {
          const fraction = total !== undefined && total > 0 ? Math.min(1, Math.max(0, progress / total)) : undefined
          ctx.progress({ ...(fraction !== undefined ? { fraction } : {}), ...(message !== undefined ? { message } : {}), data: { progress, ...(total !== undefined ? { total } : {}) } })
        },
      })
      if (result.isError === true) throw toolError(result, descriptor.name, connection.where)
      return outputOf(result)
    },
  })
}
