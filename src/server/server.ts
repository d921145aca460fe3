/**
 * The HTTP API and the dashboard over one engine (`taskweave serve`, or `startServer()` in a
 * program that has an engine): start, list, read and cancel runs, follow a run's events live
 * (SSE), read the engine's limits. Every request first meets the Host check, the refusal of a
 * token in the query string and the bearer token (all but `/healthz`, `/readyz`, `/livez` and the dashboard's static
 * files); bodies are JSON only, bounded in size and depth.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { canonicalJson } from '../core/canonical-json.js'
import { serializeError, TaskweaveError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import type { RunResult } from '../core/report.js'
import type { RunFilter, RunStore, StoredRun, StoredRunStatus } from '../core/store.js'
import type { RunHandle, WorkflowInput } from '../engine/engine.js'
import { journaledTasks } from '../engine/journaled-tasks.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { DASHBOARD_DIR } from '../web/location.js'
import { streamRunEvents } from './event-stream.js'
import { checkCrossSite, checkHost, checkQueryToken, checkToken, corsHeaders, tokenChecker } from './guards.js'
import type { Refusal } from './guards.js'
import { jsonDepthExceeds } from './json-body.js'
import { LiveRuns } from './live-runs.js'
import type { Seed } from './live-runs.js'
import { createEngineMetrics } from './metrics.js'
import { serverSettings } from './options.js'
import type { ServerOptions, ServerSettings } from './options.js'
import { declaredTasks, summaryView, storedRunView } from './views.js'
import type { DeclaredTask } from './views.js'
import type { ApiRunSummary } from './views.js'

/** A running API server. */
export interface TaskweaveServer {
  /** The address it listens on, e.g. `http://127.0.0.1:7600`. */
  readonly url: string
  readonly port: number
  /** Event streams open now, runs followed here, runs started through the API and not finished. */
  stats(): { readonly subscribers: number; readonly liveRuns: number; readonly activeRuns: number }
  /**
   * Stops accepting requests, ends every event stream and closes the server. Runs started through
   * the API keep running in the engine (close the engine to stop them).
   */
  close(): Promise<void>
}

/** Finished runs kept in memory when the engine has a store (durable ones are read from it). */
const KEEP_FINISHED_WITH_STORE = 20

/** What the store knows of a run resumed in this process, for its live view. */
async function seedFromStore(store: RunStore, runId: string, compile: (definition: unknown) => CompiledWorkflow): Promise<Seed | undefined> {
  const run = await store.load(runId)
  return run === undefined ? undefined : { labels: run.labels, createdAt: run.createdAt, tasks: declaredTasks(run.definition, compile), journaled: journaledTasks(run) }
}

/** Stored runs whose declared tasks the server keeps (see `declaredOf`). */
const DECLARED_KEPT = 32

const RUN_STATUSES: ReadonlySet<string> = new Set(['running', 'succeeded', 'partial', 'failed', 'cancelled'])
const STATIC_FILES: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
}
const STATIC_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

/** An API error with its HTTP status. */
class ApiError extends TaskweaveError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super('TW_API', message, { retryable: status === 429 || status === 503, details: { status } })
    this.name = 'ApiError'
  }
}

function refuse(refusal: Refusal): never {
  throw new ApiError(refusal.status, refusal.message, refusal.headers)
}

/** What a client sent as a run to start. */
interface StartBody {
  readonly workflow?: unknown
  readonly inputs?: unknown
  readonly labels?: unknown
  readonly runId?: unknown
  readonly concurrency?: unknown
  readonly failFast?: unknown
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function field(problem: string): never {
  throw new ApiError(400, problem)
}

/** Reads and checks the body of `POST /api/runs`. */
function startRequest(body: unknown): { workflow: Record<string, unknown>; inputs: Record<string, unknown>; labels: Record<string, string>; runId?: string; concurrency?: number; failFast?: boolean } {
  if (!isRecord(body)) field('the body must be a JSON object: { "workflow": { … }, "inputs": { … } }')
  const { workflow, inputs, labels, runId, concurrency, failFast, ...rest } = body as StartBody & Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) field(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key.slice(0, 50)}"`).join(', ')} (known: workflow, inputs, labels, runId, concurrency, failFast)`)
  if (!isRecord(workflow)) field('"workflow" must be a workflow definition (an object with "id" and "tasks")')
  if ('tools' in workflow) field('"workflow.tools" is refused over the API: a request cannot make the server load code; start the server with --tools instead')
  if (inputs !== undefined && !isRecord(inputs)) field('"inputs" must be an object of input values')
  const labelMap: Record<string, string> = {}
  if (labels !== undefined) {
    if (!isRecord(labels)) field('"labels" must be an object of text values')
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== 'string' || key.length > 100 || value.length > 500) field(`"labels.${key.slice(0, 50)}" must be text (keys up to 100 characters, values up to 500)`)
      labelMap[key] = value
    }
  }
  if (runId !== undefined && (typeof runId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(runId))) field('"runId" must be 1 to 128 letters, digits, ".", "_", ":" or "-"')
  if (concurrency !== undefined && (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1)) field('"concurrency" must be an integer ≥ 1')
  if (failFast !== undefined && typeof failFast !== 'boolean') field('"failFast" must be true or false')
  return {
    workflow,
    inputs: inputs ?? {},
    labels: { source: 'api', ...labelMap },
    ...(typeof runId === 'string' ? { runId } : {}),
    ...(typeof concurrency === 'number' ? { concurrency } : {}),
    ...(typeof failFast === 'boolean' ? { failFast } : {}),
  }
}

/** How long a cancel waits for the store to hold it before it is answered anyway (see the cancel route). */
const CANCEL_SAVE_WAIT_MS = 5000

/** The label that ties a run to the request, sent with an `Idempotency-Key`, that made it. */
const IDEMPOTENCY_LABEL = 'idempotency'

/**
 * The run id an `Idempotency-Key` names (derived from the key, so a request sent again names the
 * same run) and the fingerprint of the request (the key and the whole body), which a request sent
 * again must match. Undefined without the header; 400 for a key that is not 1–255 printable ASCII
 * characters.
 */
function idempotencyOf(header: string | string[] | undefined, body: ReturnType<typeof startRequest>): { readonly runId: string; readonly fingerprint: string } | undefined {
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(header)) throw new ApiError(400, 'the Idempotency-Key header must be 1 to 255 printable ASCII characters')
  const digest = (text: string): string => createHash('sha256').update(text).digest('hex')
  return { runId: `idem-${digest(header).slice(0, 40)}`, fingerprint: digest(canonicalJson({ key: header, body })) }
}

/** The HTTP status and body for an error a route threw. */
function errorReply(error: unknown, logger: Logger): { status: number; headers: Record<string, string>; body: unknown } {
  if (error instanceof ApiError) return { status: error.status, headers: { ...error.headers, ...(error.status === 429 || error.status === 503 ? { 'retry-after': '1' } : {}) }, body: { error: { code: error.code, status: error.status, message: error.message } } }
  const fastifyStatus = (error as { statusCode?: unknown } | null)?.statusCode
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
    const message = (error as { message?: unknown }).message
    return { status: fastifyStatus, headers: {}, body: { error: { code: 'TW_API', status: fastifyStatus, message: typeof message === 'string' ? message : 'bad request' } } }
  }
  if (TaskweaveError.is(error)) {
    const status =
      error.code === 'TW_VALIDATION' || error.code === 'TW_INVALID_OPTION'
        ? 400
        : error.code === 'TW_STORE_NOT_FOUND'
          ? 404
          : error.code === 'TW_STORE_CONFLICT' || error.code === 'TW_INVALID_STATE' || error.code === 'TW_PARKED'
            ? 409
            : error.code === 'TW_STORE' || error.code === 'TW_CANCELLED'
              ? 503
              : 500
    if (status >= 500) logger.warn('API request failed', { error: serializeError(error) })
    const issues = (error as { issues?: readonly ValidationIssue[] }).issues
    return {
      status,
      headers: status === 503 ? { 'retry-after': '1' } : {},
      body: { error: { code: error.code, status, message: status === 500 ? 'the request failed; the server log has the details' : error.message, ...(issues !== undefined ? { issues } : {}) } },
    }
  }
  logger.error('API request failed', { error: serializeError(error) })
  return { status: 500, headers: {}, body: { error: { code: 'TW_API', status: 500, message: 'the request failed; the server log has the details' } } }
}

function readStatic(settings: ServerSettings): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>()
  if (!settings.dashboard) return files
  for (const [path, { file, type }] of Object.entries(STATIC_FILES)) files.set(path, { body: readFileSync(join(DASHBOARD_DIR, file)), type })
  return files
}

/**
 * Starts the HTTP API (and the dashboard at `/`) over `options.engine`. Throws
 * `TW_INVALID_OPTION` for a bad option (an open API on a non-loopback address among them), and
 * rejects when the address cannot be listened on.
 * @example
 * const server = await startServer({ engine, token: process.env.TASKWEAVE_TOKEN })
 * console.log(`dashboard at ${server.url}`)
 */
export async function startServer(options: ServerOptions): Promise<TaskweaveServer> {
  const settings = serverSettings(options)
  const { engine } = options
  const logger = options.logger ?? silentLogger
  const statics = readStatic(settings)
  const matches = settings.token !== undefined ? tokenChecker(settings.token) : undefined
  // With a store, a finished durable run is read from it (the store has its `finish` entry before
  // the run's last event): only a few finished runs are kept here (those not durable among them).
  const store = engine.store
  /** A stored definition compiled here: its tasks with every parent (templates and conditions imply some). */
  const compileStored = (definition: unknown): CompiledWorkflow => engine.compile(definition as WorkflowInput)
  /**
   * The declared tasks of stored runs, by run id, the last {@link DECLARED_KEPT} read: a run's
   * definition never changes, and compiling a large one again on every read of it (a dashboard
   * polling, an operator paging through runs) cost 100–200 ms a read at 100,000 tasks.
   */
  const declaredByRun = new Map<string, readonly DeclaredTask[]>()
  const declaredOf = (run: StoredRun): readonly DeclaredTask[] => {
    let declared = declaredByRun.get(run.runId)
    if (declared === undefined) {
      declared = declaredTasks(run.definition, compileStored)
      declaredByRun.set(run.runId, declared)
      if (declaredByRun.size > DECLARED_KEPT) declaredByRun.delete(declaredByRun.keys().next().value as string)
    } else {
      // Read again: the most recent.
      declaredByRun.delete(run.runId)
      declaredByRun.set(run.runId, declared)
    }
    return declared
  }
  const live = new LiveRuns(engine, {
    keepFinished: store !== undefined ? Math.min(settings.keepFinishedRuns, KEEP_FINISHED_WITH_STORE) : settings.keepFinishedRuns,
    eventsPerRun: settings.eventsPerRun,
    evicted: (runId) => results.delete(runId),
    ...(store !== undefined ? { seed: (runId: string) => seedFromStore(store, runId, compileStored) } : {}),
  })
  /** Runs started through the API and not finished. */
  const handles = new Map<string, RunHandle>()
  /** Run ids of starts in progress (checked, not yet started): reserved before the first await. */
  const starting = new Set<string>()
  /** Results of finished runs, for an engine without a store (their outputs are nowhere else). */
  const results = new Map<string, RunResult>()
  let subscribers = 0
  let port = settings.port

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestTimeout: settings.requestTimeoutMs,
    // Node checks these timeouts every connectionsCheckingInterval (30 s unless told): a slowloris
    // client would hold its socket that long past the headers timeout.
    http: { headersTimeout: settings.headersTimeoutMs, requestTimeout: settings.requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeoutMs / 2))) },
    return503OnClosing: true,
    routerOptions: { maxParamLength: 300 },
  })
  app.server.maxConnections = 4096
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepthExceeds(body as string, settings.maxJsonDepth)) {
      done(new ApiError(400, `the JSON body nests deeper than ${settings.maxJsonDepth} levels`), undefined)
      return
    }
    void parseJson(request, body as string, done)
  })

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const host = checkHost(request.headers, settings, port)
    if (host !== undefined) refuse(host)
    const cors = corsHeaders(request.headers.origin, settings)
    void reply.headers({ ...cors, 'cache-control': 'no-store' })
    const queryToken = checkQueryToken(request.url)
    if (queryToken !== undefined) refuse(queryToken)
    const crossSite = checkCrossSite(request.method, request.headers, settings)
    if (crossSite !== undefined) refuse(crossSite)
    const encoding = request.headers['content-encoding']
    if (encoding !== undefined && encoding !== 'identity') refuse({ status: 415, message: `request bodies are taken without Content-Encoding (received "${encoding.slice(0, 40)}")` })
    if (request.method === 'OPTIONS' && cors['access-control-allow-origin'] !== undefined) {
      return reply
        .code(204)
        .headers({ 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'authorization, content-type, last-event-id', 'access-control-max-age': '600' })
        .send()
    }
    const path = request.url.split('?')[0] ?? ''
    if (path === '/healthz' || path === '/readyz' || path === '/livez' || ((request.method === 'GET' || request.method === 'HEAD') && statics.has(path))) return undefined
    const token = checkToken(request.headers, matches)
    if (token !== undefined) refuse(token)
    return undefined
  })

  app.setErrorHandler((error, _request, reply) => {
    const { status, headers, body } = errorReply(error, logger)
    void reply.code(status).headers(headers).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'TW_API', status: 404, message: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` } })
  })

  // 503 while the run store refuses writes: the runs here start nothing new, and a new run
  // cannot be accepted (a load balancer should send it elsewhere). Without a token it says no
  // more than that; `/api/stats` names the store and its error.
  // The same while the runner cannot hand attempts to workers (their broker is down, blocks
  // publishing or refuses what is published): runs accepted now would only wait. /readyz answers
  // the same (the name a worker's port uses).
  const ready = async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> => {
    const { store, runner } = engine.stats()
    if (store !== undefined && !store.available) return reply.code(503).type('text/plain').send(`unavailable: the run store refuses writes${store.since !== undefined ? ` since ${new Date(store.since).toISOString()}` : ''}\n`)
    if (runner !== undefined && !runner.ok) return reply.code(503).type('text/plain').send(`unavailable: attempts cannot be handed to workers since ${new Date(runner.since).toISOString()}\n`)
    return reply.type('text/plain').send('ok')
  }
  app.get('/healthz', ready)
  app.get('/readyz', ready)
  // Liveness: the process answers. A restart would not bring the store or the broker back, and it
  // would lose the runs kept in memory: a liveness probe belongs here, readiness on /readyz.
  app.get('/livez', async (_request, reply) => reply.type('text/plain').send('ok'))
  const metrics = settings.metrics ? await createEngineMetrics(engine) : undefined
  if (metrics !== undefined) app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()))
  for (const [path, file] of statics) app.get(path, async (_request, reply) => reply.headers(STATIC_HEADERS).type(file.type).send(file.body))

  app.get('/api/stats', async () => ({ engine: engine.stats(), server: { subscribers, liveRuns: live.list().length, activeRuns: handles.size } }))

  app.get('/api/tools', async () => ({ tools: engine.registry.list().map((tool) => ({ name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}) })) }))

  app.get('/api/runs', async (request) => {
    const query = request.query as Record<string, string | undefined>
    const limit = query['limit'] !== undefined ? Number(query['limit']) : 100
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(400, '"limit" must be an integer from 1 to 1000')
    const status = query['status']
    if (status !== undefined && !RUN_STATUSES.has(status)) throw new ApiError(400, `"status" must be one of ${[...RUN_STATUSES].join(', ')}`)
    const runs = new Map<string, ApiRunSummary>()
    for (const run of live.list()) if (status === undefined || run.status === status) runs.set(run.id, run)
    if (engine.store !== undefined) {
      const filter: RunFilter = { limit, ...(status !== undefined ? { status: status as StoredRunStatus } : {}) }
      for (const run of await engine.store.list(filter)) if (!runs.has(run.runId)) runs.set(run.runId, summaryView(run, false))
    }
    return { runs: [...runs.values()].sort((a, b) => b.createdAt - a.createdAt).slice(0, limit) }
  })

  /**
   * 429 once the runs started or retried through the API and not finished reach `maxActiveRuns`;
   * 503 (with `Retry-After`) while the run store refuses writes or the runner cannot hand attempts
   * to workers: a run accepted then would wait in this process's memory for as long as that lasts.
   */
  const refuseWhenFull = (): void => {
    // A run being saved is in both.
    let active = handles.size
    for (const id of starting) if (!handles.has(id)) active++
    if (active >= settings.maxActiveRuns) throw new ApiError(429, `${active} runs started through the API are unfinished (at most ${settings.maxActiveRuns}): try again when some have finished`)
    const { store, runner } = engine.stats()
    if (store !== undefined && !store.available) throw new ApiError(503, `the run store refuses writes (${store.error ?? 'unavailable'}): try again later`)
    if (runner !== undefined && !runner.ok) throw new ApiError(503, `attempts cannot be handed to workers (${runner.problem ?? 'unavailable'}): try again later`)
  }
  /** Follows a run started or retried through the API to its end. */
  const track = (runId: string, handle: RunHandle): void => {
    void handle.result.then((result) => {
      handles.delete(runId)
      live.settle(result)
      // Kept as long as the run is (its outputs are nowhere else); with a store, read from it.
      if (engine.store === undefined && live.has(runId)) results.set(runId, result)
    })
  }

  app.post('/api/runs', async (request, reply) => {
    const body = startRequest(request.body)
    const idempotency = idempotencyOf(request.headers['idempotency-key'], body)
    const runId = body.runId ?? idempotency?.runId ?? randomUUID()
    // A request sent again with its Idempotency-Key (its answer was lost) is answered with the run
    // the first one made; any other request for an existing id is a conflict. A run resumed here
    // may not have its labels in its live view yet: the store has them.
    const existing = async (run: { readonly id: string; readonly workflowId: string; readonly status: string; readonly labels: Readonly<Record<string, string>> }): Promise<FastifyReply> => {
      if (idempotency === undefined) throw new ApiError(409, `a run "${runId}" exists already`)
      let labels = run.labels
      if (labels[IDEMPOTENCY_LABEL] === undefined && engine.store !== undefined) labels = (await engine.store.load(run.id).catch(() => undefined))?.labels ?? labels
      if (labels[IDEMPOTENCY_LABEL] !== idempotency.fingerprint) {
        throw new ApiError(409, body.runId !== undefined ? `a run "${runId}" exists already` : `the Idempotency-Key was used before for a different request (run "${run.id}"); a key names one request`)
      }
      return reply.code(200).header('location', `/api/runs/${encodeURIComponent(run.id)}`).header('idempotent-replayed', 'true').send({ id: run.id, workflowId: run.workflowId, status: run.status })
    }
    // Checked and reserved in one step, before any await: two requests with one id cannot both
    // pass. The id stays reserved until the store holds the run (or refused it), so a request sent
    // again meanwhile is told to try again rather than answered with a run that may never be.
    if (starting.has(runId)) throw new ApiError(409, idempotency !== undefined ? 'a request with this Idempotency-Key is being handled: try again' : `a run "${runId}" exists already`, idempotency !== undefined ? { 'retry-after': '1' } : {})
    const held = handles.has(runId) || live.has(runId) ? live.view(runId) : undefined
    if (held !== undefined) return existing(held)
    if (handles.has(runId) || live.has(runId)) throw new ApiError(409, `a run "${runId}" exists already`)
    // After the replays, which take no new capacity.
    refuseWhenFull()
    starting.add(runId)
    let compiledId: string
    try {
      const stored = engine.store !== undefined ? await engine.store.load(runId) : undefined
      if (stored !== undefined) return existing({ id: stored.runId, workflowId: stored.workflowId, status: stored.status, labels: stored.labels })
      const compiled = engine.compile(body.workflow as unknown as WorkflowInput)
      compiledId = compiled.id
      const labels = idempotency !== undefined ? { ...body.labels, [IDEMPOTENCY_LABEL]: idempotency.fingerprint } : body.labels
      const handle = engine.start(compiled, {
        runId,
        inputs: body.inputs,
        labels,
        ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
        ...(body.failFast !== undefined ? { failFast: body.failFast } : {}),
      })
      // Before the run's first event (the engine starts it on a later tick), with the time its
      // store record has.
      live.register(runId, compiled, labels, handle.createdAt)
      handles.set(runId, handle)
      track(runId, handle)
      // A 201 promises the run will end: a durable run is confirmed only once its store holds it
      // (it starts then), so a crash right after the reply cannot lose it. One the store refused
      // ends without starting, and is answered as such.
      if (engine.store !== undefined && !(await handle.saved)) {
        const refused = await handle.result
        // A run that never was: its id is free for a retry, unless the store holds a run of it (made
        // meanwhile by another process), which is a conflict, not an outage.
        handles.delete(runId)
        results.delete(runId)
        live.forget(runId)
        const taken = (await engine.store.load(runId).catch(() => undefined)) !== undefined
        if (taken) throw new ApiError(409, `a run "${runId}" exists already`)
        throw new ApiError(503, `the run was not started: ${refused.reason ?? refused.status}`)
      }
    } finally {
      starting.delete(runId)
    }
    return reply.code(201).header('location', `/api/runs/${encodeURIComponent(runId)}`).send({ id: runId, workflowId: compiledId, status: 'running' })
  })

  app.get('/api/runs/:id', async (request) => {
    const { id } = request.params as { id: string }
    const view = live.view(id)
    if (view !== undefined) return view
    const stored = engine.store !== undefined ? await engine.store.load(id) : undefined
    if (stored === undefined) throw new ApiError(404, `no run "${id.slice(0, 200)}"`)
    return storedRunView(stored, declaredOf)
  })

  app.get('/api/runs/:id/tasks/:taskId', async (request) => {
    const { id, taskId } = request.params as { id: string; taskId: string }
    const report = results.get(id)?.tasks[taskId]
    if (report !== undefined) {
      // A report's times are the engine's clock: told as wall time, as everywhere else in the API.
      const { startedAt, finishedAt, ...rest } = report
      const offset = live.offsetOf(id) ?? 0
      return { task: { ...rest, ...(startedAt !== undefined ? { startedAt: startedAt + offset } : {}), ...(finishedAt !== undefined ? { endedAt: finishedAt + offset } : {}) } }
    }
    const stored = engine.store !== undefined ? await engine.store.load(id) : undefined
    const journaled = stored !== undefined ? journaledTasks(stored).find((task) => task.id === taskId) : undefined
    if (journaled !== undefined) return { task: journaled }
    const view = live.view(id) ?? (stored !== undefined ? storedRunView(stored, declaredOf) : undefined)
    const task = view?.tasks.find((candidate) => candidate.id === taskId)
    if (task === undefined) throw new ApiError(404, view === undefined ? `no run "${id.slice(0, 200)}"` : `run "${id.slice(0, 200)}" has no task "${taskId.slice(0, 200)}"`)
    return { task }
  })

  app.post('/api/runs/:id/cancel', async (request, reply) => {
    const { id } = request.params as { id: string }
    const body = request.body
    if (body !== undefined && body !== null && !isRecord(body)) throw new ApiError(400, 'the body, when given, must be { "reason": "…" }')
    const given = isRecord(body) ? body['reason'] : undefined
    if (given !== undefined && (typeof given !== 'string' || given.length > 500)) throw new ApiError(400, '"reason" must be text of at most 500 characters')
    const reason = given ?? 'cancelled through the API'
    const handle = handles.get(id)
    if (handle !== undefined) {
      if (engine.store === undefined) {
        handle.cancel(reason)
        return reply.code(202).send({ id, status: 'cancelling' })
      }
      // A durable run's cancel is answered once the store holds it: a crash right after the answer
      // then cannot lose it (the resumed run starts nothing new). A run still being created is
      // cancelled once the store holds it, so its cancel is journaled too (cancelled before that,
      // it would stay in the store unfinished, for a resume to run). A store that takes longer
      // than CANCEL_SAVE_WAIT_MS in all (an outage) gets the answer without that promise.
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, CANCEL_SAVE_WAIT_MS, false)))
      try {
        if (!(await Promise.race([handle.saved, late]))) {
          handle.cancel(reason)
          return reply.code(202).send({ id, status: 'cancelling', saved: false })
        }
        handle.cancel(reason)
        const saved = await Promise.race([handle.cancelSaved(), late])
        return reply.code(202).send({ id, status: 'cancelling', saved })
      } finally {
        clearTimeout(timer)
      }
    }
    if (engine.store === undefined) throw new ApiError(live.has(id) ? 409 : 404, live.has(id) ? `run "${id.slice(0, 200)}" is not running here` : `no run "${id.slice(0, 200)}"`)
    const cancelled = await engine.cancelUnfinished(id, { reason })
    return reply.code(200).send({ id, status: cancelled.status })
  })

  app.post('/api/runs/:id/retry', async (request, reply) => {
    const { id } = request.params as { id: string }
    const body = retryRequest(request.body)
    if (engine.store === undefined) throw new ApiError(409, 'this server has no run store: only a durable run can be retried')
    if (starting.has(id) || handles.has(id)) throw new ApiError(409, `run "${id.slice(0, 200)}" is running here`)
    refuseWhenFull()
    starting.add(id)
    let handle: RunHandle
    try {
      handle = await engine.retry(id, { ...(body.tasks !== undefined ? { tasks: body.tasks } : {}), by: body.by ?? 'the HTTP API' })
      handles.set(id, handle)
    } finally {
      starting.delete(id)
    }
    track(id, handle)
    return reply.code(202).header('location', `/api/runs/${encodeURIComponent(id)}`).send({ id, status: 'running' })
  })

  app.get('/api/runs/:id/events', async (request, reply) => {
    const { id } = request.params as { id: string }
    const lastHeader = request.headers['last-event-id']
    const last = typeof lastHeader === 'string' && lastHeader !== '' ? Number(lastHeader) : undefined
    if (last !== undefined && (!Number.isInteger(last) || last < 0)) throw new ApiError(400, 'Last-Event-ID must be an event id (an integer ≥ 0)')
    if (!live.has(id)) {
      const stored = engine.store !== undefined ? await engine.store.load(id) : undefined
      throw new ApiError(stored === undefined ? 404 : 409, stored === undefined ? `no run "${id.slice(0, 200)}"` : `run "${id.slice(0, 200)}" is not running in this process: its events are not streamed (read it with GET /api/runs/${id.slice(0, 200)})`)
    }
    if (subscribers >= settings.maxSubscribers) throw new ApiError(503, `${subscribers} event streams are open (at most ${settings.maxSubscribers})`)
    subscribers++
    reply.hijack()
    reply.raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    streamRunEvents(reply.raw, live, id, last, () => subscribers--)
  })

  try {
    await app.listen({ host: settings.host, port: settings.port })
  } catch (error) {
    // Not listening (the port is taken…): nothing stays subscribed to the engine.
    live.close()
    metrics?.close()
    throw error
  }
  const address = app.server.address()
  port = typeof address === 'object' && address !== null ? address.port : settings.port
  const shownHost = settings.host.includes(':') ? `[${settings.host}]` : settings.host
  let closing: Promise<void> | undefined
  return {
    url: `http://${shownHost}:${port}`,
    port,
    stats: () => ({ subscribers, liveRuns: live.list().length, activeRuns: handles.size }),
    close: () =>
      (closing ??= (async () => {
        live.close()
        metrics?.close()
        app.server.closeIdleConnections()
        await app.close()
      })()),
  }
}

/** The body of `POST /api/runs/:id/retry`, checked: `{ tasks?: string[], by?: string }` or none. */
function retryRequest(body: unknown): { readonly tasks?: string[]; readonly by?: string } {
  if (body === undefined || body === null) return {}
  if (!isRecord(body)) throw new ApiError(400, 'the body, when given, must be { "tasks": ["…"], "by": "…" }')
  const unknown = Object.keys(body).filter((key) => key !== 'tasks' && key !== 'by')
  if (unknown.length > 0) throw new ApiError(400, `unknown field ${JSON.stringify(unknown[0]?.slice(0, 100))}: a retry takes "tasks" and "by"`)
  const { tasks, by } = body
  if (tasks !== undefined && !(Array.isArray(tasks) && tasks.length <= 10_000 && tasks.every((task) => typeof task === 'string' && task.length > 0 && task.length <= 128))) throw new ApiError(400, '"tasks" must be a list of task ids')
  if (by !== undefined && (typeof by !== 'string' || by.trim() === '' || by.length > 200)) throw new ApiError(400, '"by" must be text of 1 to 200 characters')
  return { ...(tasks !== undefined ? { tasks: tasks as string[] } : {}), ...(by !== undefined ? { by } : {}) }
}
