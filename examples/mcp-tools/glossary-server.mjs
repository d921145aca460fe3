// A small MCP server (built with the official SDK) that the example connects to over stdio: a
// glossary with a `define` tool (structured output) and a `list_terms` tool.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

const GLOSSARY = {
  dag: 'a graph of tasks whose edges say which runs after which, with no cycle',
  'rate key': 'a name that tasks sharing one provider quota count against',
  attempt: 'one try of a task; a retry is the next attempt',
}

const server = new McpServer({ name: 'glossary', version: '1.0.0' })
server.registerTool('list_terms', { description: 'Every term the glossary defines.', inputSchema: {}, outputSchema: { terms: z.array(z.string()) }, annotations: { readOnlyHint: true } }, async () => {
  const terms = Object.keys(GLOSSARY)
  return { content: [{ type: 'text', text: terms.join(', ') }], structuredContent: { terms } }
})
server.registerTool(
  'define',
  { description: 'The definition of one term.', inputSchema: { term: z.string().min(1) }, outputSchema: { term: z.string(), definition: z.string() }, annotations: { readOnlyHint: true } },
  async ({ term }) => {
    const definition = GLOSSARY[term.toLowerCase()]
    if (definition === undefined) return { isError: true, content: [{ type: 'text', text: `no entry for "${term}"` }] }
    return { content: [{ type: 'text', text: definition }], structuredContent: { term, definition } }
  },
)
await server.connect(new StdioServerTransport())
