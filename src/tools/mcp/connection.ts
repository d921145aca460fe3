/**
 * One connection to an MCP server, over stdio (a child process) or Streamable HTTP, that comes
 * back when it is lost: a server process that exited, an HTTP server whose stream broke, or an
 * HTTP session the server no longer knows (404) is connected again by the next call, so one crash
 * of a server fails the calls in flight (retryably), not every task after it. A connection is
 * made under a signal of its own, so a caller that gives up (its attempt timed out) leaves it to
 * the others waiting for it; `close()` stops it. Calls take the attempt's signal (the SDK then
 * tells the server the call was cancelled) and report the server's progress notifications.
 * @module
 */
import { basename } from 'node:path'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { CallToolResult, Tool as McpToolDescriptor } from '@modelcontextprotocol/sdk/types.js'
import { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'
import { loadMcpSdk } from './sdk.js'
import type { McpSdk } from './sdk.js'
import { stdioChildren } from './stdio-children.js'
import type { StdioChild } from './stdio-children.js'

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
/** The SDK's code for a request that got no answer in time. */
const REQUEST_TIMEOUT = -32001

const ignore = (): void => {}

/** A connected client, with what it was told of the server's tools. */
interface Live {
  readonly client: Client
  readonly transport: Transport
  readonly tools: McpToolDescriptor[]
}

/** A connection to one server (see the module header). */
export class McpConnection {
  readonly #sdk: McpSdk
  readonly #endpoint: McpEndpoint
  #where: string
  #live: Live | undefined
  #connecting: Promise<Live> | undefined
  /** Stops the connection being made (on close). */
  #connectAbort: AbortController | undefined
  #closed = false
  /** The client a caller handed over: used as it is, never connected again or closed here. */
  readonly #given: boolean

  private constructor(sdk: McpSdk, endpoint: McpEndpoint, where: string, given: Live | undefined) {
    this.#sdk = sdk
    this.#endpoint = endpoint
    this.#where = where
    this.#live = given
    this.#given = given !== undefined
  }

  /** Connects to the server described by `endpoint` (`TW_MCP` when it cannot be reached). */
  static async open(endpoint: McpEndpoint, name: string | undefined, signal: AbortSignal | undefined): Promise<McpConnection> {
    const sdk = await loadMcpSdk()
    const connection = new McpConnection(sdk, endpoint, describeEndpoint(endpoint, name), undefined)
    try {
      await connection.#await(connection.#connect(), signal)
    } catch (err) {
      await connection.close()
      throw err
    }
    // Named by the server itself when the caller did not name it.
    if (name === undefined) connection.#where = describeEndpoint(endpoint, connection.server.name)
    return connection
  }

  /** Wraps a client the caller connected (custom transport, auth); closing it stays the caller's business. */
  static async adopt(client: Client, name: string | undefined, signal: AbortSignal | undefined): Promise<McpConnection> {
    const sdk = await loadMcpSdk()
    const info = client.getServerVersion()
    const where = name !== undefined ? `"${name}"` : info !== undefined ? `"${info.name}"` : 'the given client'
    const connection = new McpConnection(sdk, {}, where, undefined)
    const tools = await connection.#await(connection.#listAll(client, signal), signal)
    connection.#live = { client, transport: client.transport as Transport, tools }
    return connection
  }

  /**
   * The server in messages: its name, and its command (with its first argument that is not an
   * option, for a script's name; arguments may hold secrets) or its URL (without its query).
   */
  get where(): string {
    return this.#where
  }

  /** The server's name and version, as it introduced itself. */
  get server(): { readonly name: string; readonly version: string } {
    const info = this.#live?.client.getServerVersion()
    return { name: info?.name ?? 'mcp', version: info?.version ?? '' }
  }

  /** The tools the server listed when the connection was made (all pages). */
  get tools(): readonly McpToolDescriptor[] {
    return this.#live?.tools ?? []
  }

  /**
   * Calls tool `name`; a connection lost before the call is made again first. A call the server
   * refused for a session it no longer knows (it never ran it) is made once more on a new one.
   */
  async call(name: string, args: Record<string, unknown>, options: McpCallOptions): Promise<CallToolResult> {
    for (let attempt = 1; ; attempt++) {
      const live = await this.#ready(options.signal)
      try {
        const result = await live.client.callTool({ name, arguments: args }, undefined, {
          signal: options.signal,
          timeout: options.timeoutMs,
          resetTimeoutOnProgress: true,
          onprogress: (progress) => options.onProgress(progress.progress, progress.total, progress.message),
        })
        return result as CallToolResult
      } catch (err) {
        if (options.signal.aborted) throw options.signal.reason
        if (isSessionGone(err, live) && !this.#given) {
          this.#drop(live)
          if (attempt === 1) continue
        }
        throw this.#error(`calling tool "${name}"`, err)
      }
    }
  }

  /** Closes the connection (a stdio server's process ends; an HTTP session is ended); a given client is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#connectAbort?.abort(new Error('the connection was closed'))
    const live = this.#live
    this.#live = undefined
    if (live !== undefined && !this.#given) await closeLive(live)
  }

  /** The connected client, connecting again when the last one was lost. */
  async #ready(signal: AbortSignal): Promise<Live> {
    if (this.#closed) throw new TaskweaveError('TW_MCP', `MCP server ${this.#where}: the connection is closed`, { retryable: false, details: { server: this.#where } })
    if (this.#live !== undefined) return this.#live
    if (this.#given) throw new TaskweaveError('TW_MCP', `MCP server ${this.#where}: the given client's connection was closed`, { retryable: false, details: { server: this.#where } })
    return this.#await(this.#connect(), signal)
  }

  /** `promise`, or the caller's own signal first: one caller giving up leaves a shared connect to the others. */
  #await<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal === undefined) return promise
    if (signal.aborted) return Promise.reject(signal.reason as Error)
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error)
      signal.addEventListener('abort', onAbort, { once: true })
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  #connect(): Promise<Live> {
    this.#connecting ??= (async () => {
      const abort = new AbortController()
      this.#connectAbort = abort
      const client = new this.#sdk.Client(CLIENT_INFO, { capabilities: {} })
      const transport = this.#transport()
      let live: Live | undefined
      // Lost (a stdio server that exited, a transport closed): the next call connects again.
      client.onclose = () => {
        stdioChildren.forget(transport as unknown as StdioChild)
        if (live !== undefined && this.#live === live) this.#live = undefined
      }
      // An HTTP server whose response stream broke has lost the calls on it, which the SDK would
      // leave waiting for their timeout: closing the client fails them now (retryably).
      client.onerror = (err) => {
        if (live !== undefined && /SSE stream disconnected|Failed to reconnect|Maximum reconnection attempts/.test(describeThrown(err))) this.#drop(live)
      }
      try {
        await client.connect(transport, { signal: abort.signal })
        const tools = await this.#listAll(client, abort.signal)
        live = { client, transport, tools }
      } catch (err) {
        await client.close().catch(ignore)
        if (this.#closed) throw new TaskweaveError('TW_MCP', `MCP server ${this.#where}: the connection was closed while it was made`, { cause: err, retryable: false, details: { server: this.#where } })
        throw this.#error('connecting', err)
      }
      if (this.#closed) {
        await closeLive(live)
        throw new TaskweaveError('TW_MCP', `MCP server ${this.#where}: the connection was closed while it was made`, { retryable: false, details: { server: this.#where } })
      }
      this.#live = live
      return live
    })().finally(() => {
      this.#connecting = undefined
      this.#connectAbort = undefined
    })
    return this.#connecting
  }

  /**
   * Every tool the server lists, all pages. Listing also makes the SDK's client keep each tool's
   * output schema, which it then checks results against: done on every new connection.
   */
  async #listAll(client: Client, signal: AbortSignal | undefined): Promise<McpToolDescriptor[]> {
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

  /** Forgets a lost client and closes it (failing what still waits on it); the next call connects again. */
  #drop(live: Live): void {
    if (this.#live === live) this.#live = undefined
    void closeLive(live)
  }

  #transport(): Transport {
    const { command, url } = this.#endpoint
    if (command !== undefined) {
      const { args, env, cwd, stderr } = this.#endpoint
      const transport = new this.#sdk.StdioClientTransport({ command, args: [...(args ?? [])], ...(env !== undefined ? { env: { ...env } } : {}), ...(cwd !== undefined ? { cwd } : {}), stderr: stderr ?? 'inherit' })
      stdioChildren.track(transport)
      return transport
    }
    const headers = this.#endpoint.headers
    return new this.#sdk.StreamableHTTPClientTransport(new URL(String(url)), headers !== undefined ? { requestInit: { headers: { ...headers } } } : undefined)
  }

  #error(doing: string, err: unknown): TaskweaveError {
    if (TaskweaveError.is(err)) return err
    const code = (err as { code?: unknown } | null)?.code
    if (code === REQUEST_TIMEOUT && !/abort|cancel/i.test(describeThrown(err))) {
      return new TaskweaveError('TW_TIMEOUT', `MCP server ${this.#where}: ${doing}: no answer in time (${describeThrown(err)})`, { cause: err, retryable: true, details: { server: this.#where } })
    }
    return new TaskweaveError('TW_MCP', `MCP server ${this.#where}: ${doing} failed: ${describeThrown(err)}`, { cause: err, retryable: true, details: { server: this.#where, ...(typeof code === 'number' ? { mcpCode: code } : {}) } })
  }
}

/** Whether `err` says the server no longer knows this client's HTTP session (it did not run the call). */
function isSessionGone(err: unknown, live: Live): boolean {
  const sessionId = (live.transport as { readonly sessionId?: string }).sessionId
  return sessionId !== undefined && (err as { code?: unknown } | null)?.code === 404
}

/** Ends an HTTP session (the server may keep it otherwise), then closes the client. */
async function closeLive(live: Live): Promise<void> {
  const transport = live.transport as { terminateSession?: () => Promise<void>; readonly sessionId?: string }
  if (typeof transport.terminateSession === 'function' && transport.sessionId !== undefined) await transport.terminateSession().catch(ignore)
  await live.client.close().catch(ignore)
}

/** `"name" (command)`, `"name" (url)`, or without a name, the command or URL alone. */
function describeEndpoint(endpoint: McpEndpoint, name: string | undefined): string {
  let place: string
  if (endpoint.command !== undefined) {
    const script = endpoint.args?.find((arg) => !arg.startsWith('-'))
    place = script !== undefined ? `${basename(endpoint.command)} ${basename(script)}` : basename(endpoint.command)
  }
  else {
    try {
      const url = new URL(String(endpoint.url))
      place = `${url.protocol}//${url.host}${url.pathname}`
    } catch {
      place = 'an invalid URL'
    }
  }
  return name !== undefined ? `"${name}" (${place})` : place
}
