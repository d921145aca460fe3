/**
 * Loads the MCP SDK (`@modelcontextprotocol/sdk`, an optional peer dependency: only this folder
 * imports it, and only when a server is connected). Everything else here imports its types only.
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'

/** The parts of the SDK a connection uses. */
export interface McpSdk {
  readonly Client: typeof Client
  readonly StdioClientTransport: typeof StdioClientTransport
  readonly StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport
}

let loading: Promise<McpSdk> | undefined

/** The SDK's client modules, or `TW_MCP` saying how to install them. */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= (async () => {
    try {
      const [client, stdio, http] = await Promise.all([
        import('@modelcontextprotocol/sdk/client/index.js'),
        import('@modelcontextprotocol/sdk/client/stdio.js'),
        import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
      ])
      return { Client: client.Client, StdioClientTransport: stdio.StdioClientTransport, StreamableHTTPClientTransport: http.StreamableHTTPClientTransport }
    } catch (err) {
      loading = undefined
      throw new TaskweaveError('TW_MCP', `the "@modelcontextprotocol/sdk" package could not be loaded (install it with \`npm install @modelcontextprotocol/sdk\`): ${describeThrown(err)}`, { cause: err, retryable: false })
    }
  })()
  return loading
}
