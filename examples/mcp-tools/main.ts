/**
 * The tools of an MCP server in a workflow: a glossary server (./glossary-server.mjs, built with
 * the official SDK) started over stdio, its `list_terms` and `define` tools registered as
 * `mcp.glossary.list_terms` and `mcp.glossary.define`, and a run that lists the terms, defines
 * each one in parallel (`forEach`) and writes a page from the definitions.
 * Run: npx tsx examples/mcp-tools/main.ts (needs `@modelcontextprotocol/sdk`)
 */
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { RunResult } from 'taskweave'
import { connectMcpServer } from 'taskweave/mcp'

const page = defineTool({
  name: 'glossary.page',
  input: z.object({ entries: z.array(z.object({ term: z.string(), definition: z.string() })) }),
  run: ({ entries }) => entries.map(({ term, definition }) => `${term}: ${definition}`).join('\n'),
})

/** Runs the example and returns the run's result (the tests call this). */
export async function main(log: (line: string) => void = console.log): Promise<RunResult> {
  const glossary = await connectMcpServer({ command: process.execPath, args: [fileURLToPath(new URL('./glossary-server.mjs', import.meta.url))] })
  try {
    log(`connected to ${glossary.server.name} ${glossary.server.version}: ${glossary.tools.map((tool) => tool.name).join(', ')}`)
    const engine = createEngine({ builtins: false, tools: [...glossary.tools, page] })
    try {
      const result = await engine.run({
        id: 'glossary-page',
        tasks: [
          { id: 'terms', tool: 'mcp.glossary.list_terms' },
          { id: 'define', tool: 'mcp.glossary.define', dependsOn: ['terms'], forEach: '{{ tasks.terms.output.terms }}', input: { term: '{{ item }}' }, timeout: '10s' },
          { id: 'page', tool: 'glossary.page', dependsOn: ['define'], input: { entries: '{{ tasks.define.output }}' } },
        ],
      })
      const text = result.tasks['page']?.output
      log(typeof text === 'string' ? text : `run ${result.status}`)
      return result
    } finally {
      await engine.close()
    }
  } finally {
    await glossary.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
