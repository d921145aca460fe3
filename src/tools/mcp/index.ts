/**
 * `taskweave/mcp`: the tools of an MCP server as taskweave tools. `connectMcpServer()` starts a
 * server as a child process (stdio) or connects to one over Streamable HTTP, lists its tools, and
 * gives each as a tool to register on an engine (`mcp.<server>.<tool>`), with its input schema,
 * description and hints. A call runs under the attempt's signal (a timeout or a cancelled run
 * tells the server the call is cancelled), reports the server's progress as `task:progress`, and
 * connects again when the server was lost. Needs `@modelcontextprotocol/sdk`, an optional peer
 * dependency.
 * @example
 * ```ts
 * import { createEngine } from 'taskweave'
 * import { connectMcpServer } from 'taskweave/mcp'
 * await using files = await connectMcpServer({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'], name: 'files' })
 * await using engine = createEngine({ tools: files.tools })
 * const result = await engine.run({ id: 'ls', tasks: [{ id: 'list', tool: 'mcp.files.list_directory', input: { path: '.' } }] })
 * ```
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InvalidOptionError, TaskweaveError } from '../../core/errors.js'
import { refuseUnknownOptions } from '../../core/known-options.js'
import type { AnyTool } from '../../core/tool.js'
import { McpConnection } from './connection.js'
import type { McpEndpoint } from './connection.js'
import { mcpTool, taskweaveName, toolNamePart } from './tool.js'

export type { McpEndpoint } from './connection.js'

/** Options of {@link connectMcpServer}: one of `command`, `url` or `client`, and how to name the tools. */
export interface ConnectMcpOptions extends McpEndpoint {
  /** A client of the SDK that is connected already (another transport, OAuth): used as it is, and not closed by `close()`. */
  readonly client?: Client
  /** The server's name in tool names. @default the name the server gives itself */
  readonly name?: string
  /** Put before each tool's name. @default `mcp.<name>.` */
  readonly prefix?: string
  /** Only these tools of the server (by their MCP names); a name the server does not list is refused. @default every tool */
  readonly include?: readonly string[]
  /** Longest wait for one call's answer, in ms, counted again from each progress notification. The task's `timeout` stops it too. @default 60000 */
  readonly timeoutMs?: number
  /**
   * Whether calling a tool twice with the same input is harmless, for every tool of the server.
   * @default from each tool's annotations: read-only or idempotent tools are, others are not (MCP's own defaults)
   */
  readonly idempotent?: boolean
  /** Largest JSON size of one call's output, in bytes. @default the engine's `maxOutputBytes` (1 MiB) */
  readonly maxOutputBytes?: number
  /** Stops connecting and listing. */
  readonly signal?: AbortSignal
}

/** A tool of the server that got no taskweave tool, and why. */
export interface SkippedMcpTool {
  readonly name: string
  readonly reason: string
}

/** The tools of one connected server; close it (or `await using`) when the engine is done with them. */
export interface McpTools extends AsyncDisposable {
  /** One taskweave tool per tool of the server: register them with `createEngine({ tools })` or `registry.register`. */
  readonly tools: readonly AnyTool[]
  /** Tools of the server whose names make no valid taskweave name (or the same name as another). */
  readonly skipped: readonly SkippedMcpTool[]
  /** The server's name and version, as it introduced itself. */
  readonly server: { readonly name: string; readonly version: string }
  /** Closes the connection; a stdio server's process ends. Calls made after it fail `TW_MCP`. */
  close(): Promise<void>
}

const OPTION_NAMES = ['command', 'args', 'env', 'cwd', 'stderr', 'url', 'headers', 'client', 'name', 'prefix', 'include', 'timeoutMs', 'idempotent', 'maxOutputBytes', 'signal']
/** The SDK's own default for a request. */
const DEFAULT_TIMEOUT_MS = 60_000
/** The longest delay a Node timer takes. */
const MAX_TIMEOUT_MS = 2_147_483_647

/**
 * Connects to an MCP server and makes a taskweave tool of each of its tools (see the module
 * header). Rejects with `TW_INVALID_OPTION` for bad options, `TW_MCP` when the server cannot be
 * started, reached or listed (the SDK missing included).
 */
export async function connectMcpServer(options: ConnectMcpOptions): Promise<McpTools> {
  checkOptions(options)
  const connection = options.client !== undefined ? await McpConnection.adopt(options.client, options.name, options.signal) : await McpConnection.open(endpointOf(options), options.name, options.signal)
  try {
    const descriptors = connection.tools
    const wanted = options.include !== undefined ? new Set(options.include) : undefined
    if (wanted !== undefined) {
      const listed = new Set(descriptors.map((d) => d.name))
      const missing = [...wanted].filter((name) => !listed.has(name))
      if (missing.length > 0) {
        throw new TaskweaveError('TW_INVALID_OPTION', `option "include" names tools MCP server ${connection.where} does not list: ${missing.map((name) => JSON.stringify(name)).join(', ')} (it lists: ${[...listed].sort().join(', ') || 'none'})`, {
          retryable: false,
          details: { option: 'include', missing },
        })
      }
    }
    const server = connection.server
    const prefix = options.prefix ?? `mcp.${toolNamePart(options.name ?? server.name)}.`
    const settings = { prefix, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, idempotent: options.idempotent, maxOutputBytes: options.maxOutputBytes }
    const tools: AnyTool[] = []
    const skipped: SkippedMcpTool[] = []
    const taken = new Map<string, string>()
    for (const descriptor of descriptors) {
      if (wanted !== undefined && !wanted.has(descriptor.name)) continue
      const named = taskweaveName(prefix, descriptor)
      if ('reason' in named) {
        skipped.push({ name: descriptor.name, reason: named.reason })
        continue
      }
      const other = taken.get(named.name)
      if (other !== undefined) {
        skipped.push({ name: descriptor.name, reason: `its name "${named.name}" is that of tool "${other}" too` })
        continue
      }
      taken.set(named.name, descriptor.name)
      tools.push(mcpTool(named.name, descriptor, connection, settings))
    }
    const close = (): Promise<void> => connection.close()
    return { tools, skipped, server, close, [Symbol.asyncDispose]: close }
  } catch (err) {
    await connection.close()
    throw err
  }
}

function checkOptions(options: ConnectMcpOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('connectMcpServer', 'an object with command, url or client', options)
  refuseUnknownOptions('connectMcpServer', options, OPTION_NAMES)
  const given = (['command', 'url', 'client'] as const).filter((key) => options[key] !== undefined)
  if (given.length !== 1) throw new InvalidOptionError('command / url / client', 'exactly one of them', given.length === 0 ? undefined : given.join(' and '))
  if (options.command !== undefined && (typeof options.command !== 'string' || options.command === '')) throw new InvalidOptionError('command', 'a non-empty string', options.command)
  if (options.args !== undefined && !(Array.isArray(options.args) && options.args.every((a) => typeof a === 'string'))) throw new InvalidOptionError('args', 'an array of strings', options.args)
  if (options.url !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(String(options.url))
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidOptionError('url', 'an http:// or https:// URL', String(options.url))
  }
  const timeoutMs = options.timeoutMs
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) throw new InvalidOptionError('timeoutMs', `a number of ms from 1 to ${MAX_TIMEOUT_MS}`, timeoutMs)
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') throw new InvalidOptionError('idempotent', 'true or false', options.idempotent)
  if (options.include !== undefined && !(Array.isArray(options.include) && options.include.every((n) => typeof n === 'string'))) throw new InvalidOptionError('include', 'an array of tool names', options.include)
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || (options.prefix !== '' && !/^[A-Za-z][\w.-]*$/.test(options.prefix)))) throw new InvalidOptionError('prefix', 'letters, digits, "_", "." and "-", starting with a letter', options.prefix)
}

/** The endpoint part of the options (the naming options stay out of the connection). */
function endpointOf(options: ConnectMcpOptions): McpEndpoint {
  const { command, args, env, cwd, stderr, url, headers } = options
  return { command, args, env, cwd, stderr, url, headers } as McpEndpoint
}
