/** One MCP tool as a taskweave tool: its name, input schema, hints and call. @module */
import type { Tool as McpToolDescriptor } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { defineTool } from '../../core/tool.js'
import type { AnyTool, ToolContext } from '../../core/tool.js'
import type { McpConnection } from './connection.js'
import { outputOf, toolError } from './result.js'

/** The name pattern of taskweave tools. */
const TOOL_NAME = /^[A-Za-z][\w.-]{0,127}$/

/** How the tools of one server are made. */
export interface McpToolSettings {
  readonly prefix: string
  readonly timeoutMs: number
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
 * The zod schema of the tool's input, from its JSON Schema; a schema zod cannot read becomes
 * "any object", and the server, which validates its own input, words the problems.
 */
function inputSchemaOf(descriptor: McpToolDescriptor): z.ZodType {
  try {
    return z.fromJSONSchema(descriptor.inputSchema as Parameters<typeof z.fromJSONSchema>[0])
  } catch {
    return z.record(z.string(), z.unknown())
  }
}

/**
 * Whether calling the tool twice with the same input is harmless, from its annotations: a tool
 * the server marks read-only or idempotent is; one it marks destructive (and not idempotent) is
 * not; one without hints is taken as idempotent, as every taskweave tool is by default.
 */
function idempotentOf(descriptor: McpToolDescriptor): boolean {
  const hints = descriptor.annotations
  if (hints?.readOnlyHint === true || hints?.idempotentHint === true) return true
  return hints?.destructiveHint !== true
}

/** The taskweave tool `name` that calls `descriptor` on `connection`. */
export function mcpTool(name: string, descriptor: McpToolDescriptor, connection: McpConnection, settings: McpToolSettings): AnyTool {
  const description = descriptor.description ?? descriptor.title ?? descriptor.annotations?.title
  return defineTool({
    name,
    ...(description !== undefined ? { description } : {}),
    input: inputSchemaOf(descriptor),
    idempotent: idempotentOf(descriptor),
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
