/**
 * One connection to an MCP server, over stdio (a child process) or Streamable HTTP, that comes
 * back when it is lost: a server process that exited, or an HTTP session the server dropped, is
 * connected again by the next call (once per call), so one crash of a server does not fail every
 * task after it. Calls take the attempt's signal (the SDK then tells the server the call was
 * cancelled) and report the server's progress notifications.
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { CallToolResult, Tool as McpToolDescriptor } from '@modelcontextprotocol/sdk/types.js'
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'
import { loadMcpSdk } from './sdk.js'
import type { McpSdk } from './sdk.js'

/** Where the server is: a command to start (stdio) or a URL (Streamable HTTP). */
export interface McpEndpoint {
  /** Starts the server as a child process speaking MCP over stdio. */
  readonly command?: string
  readonly args?: readonly string[]
  /** Added to the few variables a stdio server inherits (`PATH`, `HOME`…), not to the whole environment. */
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** The server process's standard error. @default 'inherit' */
  readonly stderr?: 'inherit' | 'pipe' | 'ignore'
  /** Connects to a server over Streamable HTTP (`http://host:port/mcp`). */
  readonly url?: string | URL
  /** Sent with every HTTP request (an `Authorization` header, say). */
  readonly headers?: Readonly<Record<string, string>>
}

/** What one call is told as it runs. */
export interface McpCallOptions {
  readonly signal: AbortSignal
  readonly timeoutMs: number
  readonly onProgress: (progress: number, total: number | undefined, message: string | undefined) => void
}

/** This package's name and version, as the client introduces itself to servers. */
const CLIENT_INFO = { name: 'taskweave', version: '0.1.0' }

/** A connection to one server (see the module header). */
export class McpConnection {
  readonly #sdk: McpSdk
  readonly #endpoint: McpEndpoint
  /** Where the server is, for messages (a command line or a URL without its query). */
  readonly where: string
  #client: Client | undefined
  #connecting: Promise<Client> | undefined
  #closed = false
  /** The client a caller handed over: used as it is, never reconnected or closed here. */
  readonly #given: boolean

  private constructor(sdk: McpSdk, endpoint: McpEndpoint, where: string, client: Client | undefined) {
    this.#sdk = sdk
    this.#endpoint = endpoint
    this.where = where
    this.#client = client
    this.#given = client !== undefined
  }

  /** Connects to the server described by `endpoint` (`TW_MCP` when it cannot be reached). */
  static async open(endpoint: McpEndpoint, signal: AbortSignal | undefined): Promise<McpConnection> {
    const sdk = await loadMcpSdk()
    const connection = new McpConnection(sdk, endpoint, describeEndpoint(endpoint), undefined)
    await connection.#connect(signal)
    return connection
  }

  /** Wraps a client the caller connected (custom transport, auth); closing it stays the caller's business. */
  static async adopt(client: Client): Promise<McpConnection> {
    const sdk = await loadMcpSdk()
    const info = client.getServerVersion()
    return new McpConnection(sdk, {}, info !== undefined ? `server "${info.name}"` : 'the given client', client)
  }

  /** The server's name and version, as it introduced itself. */
  get server(): { readonly name: string; readonly version: string } {
    const info = this.#client?.getServerVersion()
    return { name: info?.name ?? 'mcp', version: info?.version ?? '' }
  }

  /** Every tool the server lists (all pages). */
  async listTools(signal: AbortSignal | undefined): Promise<McpToolDescriptor[]> {
    const client = await this.#live(signal)
    const tools: McpToolDescriptor[] = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor !== undefined ? { cursor } : {}, signal !== undefined ? { signal } : {}).catch((err: unknown) => {
        throw this.#error('listing its tools', err)
      })
      tools.push(...page.tools)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return tools
  }

  /** Calls tool `name`; a connection lost before the call is made again first. */
  async call(name: string, args: Record<string, unknown>, options: McpCallOptions): Promise<CallToolResult> {
    const client = await this.#live(options.signal)
    try {
      const result = await client.callTool({ name, arguments: args }, undefined, {
        signal: options.signal,
        timeout: options.timeoutMs,
        resetTimeoutOnProgress: true,
        onprogress: (progress) => options.onProgress(progress.progress, progress.total, progress.message),
      })
      return result as CallToolResult
    } catch (err) {
      if (options.signal.aborted) throw options.signal.reason
      throw this.#error(`calling tool "${name}"`, err)
    }
  }

  /** Closes the connection (and stops a stdio server's process); a given client is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined))
    this.#client = undefined
    if (!this.#given) await client?.close().catch(() => undefined)
  }

  /** The connected client, connecting again when the last one was lost. */
  async #live(signal: AbortSignal | undefined): Promise<Client> {
    if (this.#closed) throw new TaskweaveError('TW_MCP', `MCP server at ${this.where}: the connection is closed`, { retryable: false, details: { server: this.where } })
    if (this.#client !== undefined) return this.#client
    if (this.#given) throw new TaskweaveError('TW_MCP', `MCP server at ${this.where}: the given client's connection was closed`, { retryable: false, details: { server: this.where } })
    return this.#connect(signal)
  }

  #connect(signal: AbortSignal | undefined): Promise<Client> {
    this.#connecting ??= (async () => {
      const client = new this.#sdk.Client(CLIENT_INFO, { capabilities: {} })
      const transport = this.#transport()
      // Lost (a stdio server that exited, an HTTP session dropped): the next call connects again.
      client.onclose = () => {
        if (this.#client === client) this.#client = undefined
      }
      try {
        await client.connect(transport, signal !== undefined ? { signal } : {})
      } catch (err) {
        await client.close().catch(() => undefined)
        throw this.#error('connecting', err)
      }
      if (this.#closed) {
        await client.close().catch(() => undefined)
        throw new TaskweaveError('TW_MCP', `MCP server at ${this.where}: the connection was closed while it was made`, { retryable: false, details: { server: this.where } })
      }
      this.#client = client
      return client
    })().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  #transport(): Transport {
    const { command, url } = this.#endpoint
    if (command !== undefined) {
      const { args, env, cwd, stderr } = this.#endpoint
      return new this.#sdk.StdioClientTransport({ command, args: [...(args ?? [])], ...(env !== undefined ? { env: { ...env } } : {}), ...(cwd !== undefined ? { cwd } : {}), stderr: stderr ?? 'inherit' })
    }
    const headers = this.#endpoint.headers
    return new this.#sdk.StreamableHTTPClientTransport(new URL(String(url)), headers !== undefined ? { requestInit: { headers: { ...headers } } } : undefined)
  }

  #error(doing: string, err: unknown): TaskweaveError {
    if (TaskweaveError.is(err)) return err
    const code = (err as { code?: unknown } | null)?.code
    // The SDK's request timeout (-32001): the server did not answer in time.
    if (code === -32001) return new TaskweaveError('TW_TIMEOUT', `MCP server at ${this.where}: ${doing}: no answer in time (${describeThrown(err)})`, { cause: err, retryable: true, details: { server: this.where } })
    return new TaskweaveError('TW_MCP', `MCP server at ${this.where}: ${doing} failed: ${describeThrown(err)}`, { cause: err, retryable: true, details: { server: this.where, ...(typeof code === 'number' ? { mcpCode: code } : {}) } })
  }
}

/** A command line, or a URL without its query and credentials (they may hold secrets). */
function describeEndpoint(endpoint: McpEndpoint): string {
  if (endpoint.command !== undefined) return [endpoint.command, ...(endpoint.args ?? [])].join(' ')
  try {
    const url = new URL(String(endpoint.url))
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch {
    return 'an invalid URL'
  }
}
