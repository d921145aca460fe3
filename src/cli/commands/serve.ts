/**
 * `taskweave serve`: the HTTP API and the live dashboard over an engine with the CLI's store, the
 * built-in tools and the `--tools` modules, until SIGTERM or Ctrl-C. Runs started through the API
 * are durable in the store like `taskweave run`'s; on a stop they are suspended, and `--resume`
 * (or `taskweave resume`) goes on with them.
 * @module
 */
import { resolve } from 'node:path'
import { createEngine } from '../../engine/engine.js'
import { startServer } from '../../server/server.js'
import { cliLogger } from '../cli-logger.js'
import { loadCliConfig } from '../config.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { loadToolModule } from '../load-tools.js'
import { openStore, parseStoreSpec } from '../open-store.js'
import { openRemoteExecution } from '../remote-execution.js'
import { serveToken } from '../serve-token.js'
import { cancelOnSignals } from '../signals.js'

/** Parsed arguments of `serve`. */
export interface ServeCommandArgs {
  readonly port?: number
  readonly host?: string
  readonly tools: readonly string[]
  readonly store?: string
  /** `--token-file`: where the token is read (or made). @default ./.taskweave/token */
  readonly tokenFile?: string
  /** `--no-auth`: no token (loopback addresses only). */
  readonly noAuth: boolean
  readonly allowHosts: readonly string[]
  readonly corsOrigins: readonly string[]
  readonly concurrency?: number
  readonly fsRoot?: string
  readonly allowPrivateNetwork: boolean
  readonly config?: string
  readonly transport?: string
  readonly prefix?: string
  /** `--resume`: resume the store's unfinished runs that no live process owns, at start. */
  readonly resume: boolean
}

/** Serves until a signal; resolves to the exit code. */
export async function serveCommand(args: ServeCommandArgs, io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = await loadCliConfig(args.config)
  const token = args.noAuth ? undefined : await serveToken(resolve(args.tokenFile ?? '.taskweave/token'), env)
  const spec = parseStoreSpec(args.store ?? config.store, process.cwd())
  const store = await openStore(spec)
  try {
    const remote = await openRemoteExecution(args.transport ?? config.transport, args.prefix ?? config.prefix, (text) => io.stderr(`warning: ${text}`))
    const engine = createEngine({
      ...remote.engineOptions,
      logger: cliLogger(io),
      ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
      builtins: { fs: { root: resolve(args.fsRoot ?? process.cwd()) }, http: { allowPrivateNetwork: args.allowPrivateNetwork } },
      store,
      ...(config.rates !== undefined ? { rates: config.rates } : {}),
      ...(config.autoscale !== undefined ? { autoscale: config.autoscale } : {}),
      ...(config.groups !== undefined ? { groups: config.groups } : {}),
    })
    const controller = new AbortController()
    // A memory store keeps nothing past this process: its runs end with it.
    const stopping = spec.kind === 'memory' ? 'stopping: running runs end with the server (a memory store keeps nothing to resume)' : 'stopping: running runs are suspended and stay resumable'
    const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), stopping)
    try {
      for (const module of args.tools) await loadToolModule(module, process.cwd(), engine.registry)
      const server = await startServer({
        engine,
        ...(args.host !== undefined ? { host: args.host } : {}),
        ...(args.port !== undefined ? { port: args.port } : {}),
        ...(token !== undefined ? { token: token.token } : { auth: 'none' as const }),
        allowedHosts: args.allowHosts,
        corsOrigins: args.corsOrigins,
        logger: cliLogger(io),
      })
      io.stderr(`taskweave serve: dashboard and API on ${server.url} (runs in ${store.location}; ${token !== undefined ? `token from ${token.source}` : 'no token: loopback only'})`)
      if (args.resume) {
        const resumed = await engine.resumeUnfinished()
        if (resumed.length > 0) io.stderr(`resumed ${resumed.length} unfinished run${resumed.length === 1 ? '' : 's'}: ${resumed.map((handle) => handle.id).join(', ')}`)
      }
      if (!controller.signal.aborted) await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }))
      await server.close()
      return EXIT.ok
    } finally {
      stopListening()
      await engine.close({ reason: 'the server stopped' })
      await remote.close()
    }
  } finally {
    await store.close()
  }
}
