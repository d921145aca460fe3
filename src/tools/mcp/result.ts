/** What an MCP tool's result becomes as a task's output, or its error. @module */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { TaskweaveError } from '../../core/errors.js'

/**
 * The output of a successful call: the tool's `structuredContent` when it gave one; otherwise its
 * text, the text blocks joined by a line break, when every block is text (what most tools
 * return, and what a template reads most easily); otherwise the content blocks as the server sent
 * them (images and audio as base64 data, resources with their URI).
 */
export function outputOf(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent
  const content = result.content ?? []
  if (content.length > 0 && content.every((block) => block.type === 'text')) return content.map((block) => (block as { text: string }).text).join('\n')
  return content
}

/** The error of a call the tool reported as failed (`isError`): its text, with the blocks in `details`. */
export function toolError(result: CallToolResult, tool: string, server: string): TaskweaveError {
  const content = result.content ?? []
  const text = content
    .filter((block): block is { type: 'text'; text: string } => block.type === 'text')
    .map((block) => block.text)
    .join('\n')
  return new TaskweaveError('TW_TOOL_FAILED', `MCP tool "${tool}" of server ${server} reported an error: ${text === '' ? '(no text)' : text.slice(0, 2000)}`, {
    retryable: true,
    details: { server, tool, content },
  })
}
