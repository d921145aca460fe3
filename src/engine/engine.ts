/**
 * The engine: owns the tool registry, the global slots, the clock, the event bus and the runs.
 * `createEngine()` is the entry point of the library.
 * @module
 */
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/bytes.js'
import { systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import { InvalidOptionError, serializeError, TaskweaveError, ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import type { ToolRegistry } from '../core/registry.js'
import { isTool } from '../core/tool.js'
import type { AnyTool } from '../core/tool.js'
import { EventEmitter } from '../observe/emitter.js'
import type { Unsubscribe } from '../observe/emitter.js'
import type { EventMap, EventName, TaskweaveEvent } from '../observe/events.js'
import { SlotPool } from '../scheduler/slots.js'
import { KeyedLimiter } from '../scheduler/keyed-limiter.js'
import type { KeyStats } from '../scheduler/keyed-limiter.js'
import { RateLimiter } from '../scheduler/rate-limiter.js'
import { LoadScaler } from '../scheduler/load-scaler.js'
import type { LoadScalerStats } from '../scheduler/load-scaler.js'
import type { RateKeyStats } from '../scheduler/rate-limiter.js'
import { resolveRateTable } from '../core/rate-spec.js'
import type { RateLimitSpec, RunBudgetSpec } from '../core/rate.js'
import { registerActiveWorkflows } from './active-workflows.js'
import { checkBudget, checkGroupLimits, ENGINE_OPTION_NAMES, refuseUnknownGroupOptions, refuseUnknownOptions, RUN_OPTION_NAMES } from './options.js'
import type { AutoscaleOptions } from './options.js'
import { checkFunction, checkMethods, checkSignal } from '../core/known-options.js'
import type { BuiltWorkflow } from '../workflow/builder.js'
import type { WorkflowInput } from '../workflow/input.js'
import { CompileCache } from '../workflow/compile-cache.js'
import { compileWorkflow, DEFAULT_MAX_INPUT_BYTES, isCompiledWorkflow, resolveInputs } from '../workflow/compile.js'
import type { CompiledWorkflow, TaskShape } from '../workflow/compile.js'
import { loadWorkflowFile } from '../workflow/load-on-demand.js'
import type { LoadOptions } from '../workflow/load.js'
import type { TaskSpec } from '../workflow/types.js'
import { freezeDeep } from './plain-data.js'
import { checkRunId } from './run-id.js'
import type { AttemptRunner, RunnerHealth } from '../core/attempt.js'
import { LocalAttemptRunner } from './local-runner.js'
import type { AttemptWrapper } from './local-runner.js'
import type { AbandonedToolCall } from './local-tool-context.js'
import { buildToolRegistry } from './tool-registry.js'
import type { BuiltinsOption } from './tool-registry.js'
import { keepRunShapesSoon } from './shape-anchors.js'
import { RunExecution } from './run.js'
import type { RunControl, TaskCompleteHandler } from './run-types.js'
import type { RunResult } from './report.js'
import type { TaskStatus } from './states.js'
import { ToolStats } from './tool-stats.js'
import type { Lease, NewRun, RunStore, RunSummary, StoredRun } from '../core/store.js'
import { checkLabels } from '../core/store.js'
import { Journal } from './journal.js'
import { checkRetryOptions, reopenForRetry } from './retry-run.js'
import type { RetryRunOptions } from './retry-run.js'
import { backgroundRecorder } from './background-records.js'
import { crashPoint } from '../core/crash-point.js'
import { ReplayLog } from './replay-log.js'
import type { ParkedTask } from './replay-log.js'
import { checkDecision, parkedTasksOf, resolveHint, resolveParkedTask } from './resolve-parked.js'
import { warnIfJournalAhead } from './clock-jump.js'
import type { ParkedDecision, ParkedResolution, ResolveParkedOptions } from './resolve-parked.js'
import { cancelStoredRun } from './cancel-stored.js'
import type { CancelledRun, CancelUnfinishedOptions } from './cancel-stored.js'
import { newRunRecord, readStoredRun, resolveDurability, RetentionPruner } from './durable.js'
import type { DurabilityOptions } from './durable.js'
import { holdOwner, otherLiveOwners, resumeLeaseRequest } from './live-owners.js'
import { AgentSessionPool, createAgentTool } from '../agents/index.js'
import { ConcurrentExecutor } from '../background/index.js'
import type { ConcurrentExecutorOptions } from '../background/index.js'
import type { AbandonedWork, AgentSessionPoolOptions, AnyAgent } from '../agents/index.js'
import { IndexedSet } from '../core/indexed-set.js'
import { onMicrotask, rethrowUncaught } from '../core/microtask.js'

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** Tools (besides the built-ins) that workflows may call. */
  readonly tools?: Iterable<AnyTool>
  /** Agents that workflow tasks may name (`agent: <name>`); their instances are pooled per session in `engine.agents`. */
  readonly agents?: Iterable<AnyAgent>
  /** Settings of `engine.background` (finished-task TTL and bound, default timeout, completion callback). */
  readonly background?: Omit<ConcurrentExecutorOptions, 'engine' | 'clock' | 'limiter'>
  /** Settings of the agent session pool (idle timeout, max instances, max concurrent executions). */
  readonly agentPool?: Omit<AgentSessionPoolOptions, 'agents' | 'clock' | 'limiter'>
  /**
   * Built-in tools (`fs.*`, `http.fetch`, `llm.chat`) and their settings; `false` leaves them
   * out, `llm: false` leaves out `llm.chat`. @default {} (fs rooted at the working directory; http
   * refuses private addresses; llm.chat on `OPENAI_BASE_URL` / `OPENAI_API_KEY` /
   * `TASKWEAVE_LLM_MODEL`, its tokenizer loaded on first use)
   */
  readonly builtins?: BuiltinsOption
  /** Attempts running at once across all runs of this engine. @default 64 */
  readonly concurrency?: number
  /** Source of time and timers. Pass a `ManualClock` (from `taskweave/testing`) to skip time. @default the system clock */
  readonly clock?: Clock
  /** Random numbers in [0, 1) for backoff jitter. @default Math.random */
  readonly random?: () => number
  /** Structured logger. @default silent (progress is reported through events) */
  readonly logger?: Logger
  /** Largest JSON size of one task output, in bytes. @default 1 MiB */
  readonly maxOutputBytes?: number
  /** Most items one forEach may expand into. @default 100,000 */
  readonly maxForEachItems?: number
  /** Largest JSON size of one run input, in bytes (larger data belongs in files). @default 1 MiB */
  readonly maxInputBytes?: number
  /**
   * Runs the attempts the engine dispatches. @default a runner that calls each tool in this
   * process. Another runner (a journal replay, a remote worker pool) implements the same port
   * (`taskweave/ports`); it finds tools by name, so register them with the engine as usual.
   */
  readonly runner?: AttemptRunner
  /**
   * Concurrency caps per group, engine-wide: `{ llm: 4 }` allows four `group: llm` attempts at
   * once across every run of this engine. They override a workflow's `limits.groups` for the same
   * group; a group capped by neither is not limited.
   */
  readonly groups?: Readonly<Record<string, number>>
  /**
   * Makes runs durable: each run's pinned definition and journal go to this store, and a run
   * that did not finish (a crash, `kill -9`, a deploy) is resumed with `engine.resume(runId)`
   * without running again what had finished. `openSqliteStore` (`taskweave/stores/sqlite`),
   * `openPostgresStore` (`taskweave/stores/postgres`) or a `MemoryRunStore`. The caller owns the
   * store: close it after the engine.
   */
  readonly store?: RunStore
  /** Lease and resume settings of durable runs. */
  readonly durability?: DurabilityOptions
  /**
   * Budgets per rate key, engine-wide (`{ 'openai:gpt-4o': { requests: '500/min', tokens:
   * '200000/min', concurrent: 16 } }`): every task whose tool or spec names the key counts
   * against it, in every run. A `tool:<name>` key applies to every task of that tool (with
   * `attemptsPerSecond`, the cap that stops a retry storm). They override a workflow's
   * `limits.rates` for the same key. A key configured nowhere adapts its concurrency (AIMD) and
   * learns its budgets from the provider's `x-ratelimit-*` headers.
   */
  readonly rates?: Readonly<Record<string, RateLimitSpec>>
  /**
   * Load-aware scaling: the engine's slot count (`concurrency` is its ceiling) halves when the
   * event loop lags past `maxEventLoopLagMs` (100) or RSS passes `maxRssBytes`, and climbs back
   * after healthy readings. Each change is an `engine:scaled` event; `engine.stats().autoscale`
   * shows the state. `true` takes every default. @default off
   */
  readonly autoscale?: boolean | AutoscaleOptions
}

/** Settings of load-aware scaling (see {@link EngineOptions.autoscale}). */
export type { AutoscaleOptions } from './options.js'

/** Options of {@link Engine.close}. */
export interface EngineCloseOptions {
  /**
   * Why the engine closes, in the reason its runs end with (`'interrupted'` for a Ctrl-C): a
   * suspended durable run's reason then goes on to say how to resume it. @default 'the engine closed'
   */
  readonly reason?: string
}

/** Options of {@link Engine.resume}. */
export interface ResumeOptions {
  /** Aborting it cancels the resumed run. */
  readonly signal?: AbortSignal
  /** Completion handlers, as given to the run (they are code, so the store cannot keep them). */
  readonly onTaskComplete?: TaskCompleteHandler | Readonly<Record<string, TaskCompleteHandler>>
}

/** Options of one run. */
export interface RunOptions {
  /** Values for the workflow's declared inputs (text values are converted to the declared type). */
  readonly inputs?: Readonly<Record<string, unknown>>
  /** Aborting it cancels the run. */
  readonly signal?: AbortSignal
  /** Attempts of this run at once. @default the workflow's `limits.concurrency`, else the engine's */
  readonly concurrency?: number
  /** Stop at the first failure. @default the workflow's `failFast`, else false */
  readonly failFast?: boolean
  /** Id of the run. @default a random UUID */
  readonly runId?: string
  /** Called when a task ends: one handler for all tasks, or one per task id. Handlers may add tasks. */
  readonly onTaskComplete?: TaskCompleteHandler | Readonly<Record<string, TaskCompleteHandler>>
  /**
   * Whether `limits.groups` caps count every run of the engine (`'engine'`: a group is a shared
   * provider cap) or only this run's own tasks (`'run'`). @default 'engine'
   */
  readonly groupScope?: 'engine' | 'run'
  /** Whether the run is journaled to the engine's store. @default true when the engine has a store */
  readonly durable?: boolean
  /** Labels stored with a durable run, for listing and filtering (`{ source: 'flow.yaml' }`). */
  readonly labels?: Readonly<Record<string, string>>
  /**
   * What the run may spend on LLM calls (`{ maxTokens: 200_000, maxCostUsd: 2 }`): once reached,
   * no new task with a rate key starts, running ones finish, and the run ends `partial` with the
   * reason. @default the workflow's `budget`
   */
  readonly budget?: RunBudgetSpec
}

export type { WorkflowInput }

/** A run in progress. */
export interface RunHandle {
  readonly id: string
  /**
   * When the run was created, in epoch ms of the engine's clock (`clock.wallNow()`): what its
   * store record says; a resumed run keeps the time it was first started.
   */
  readonly createdAt: number
  /** Resolves when the run ends (it never rejects: failures are in the result). */
  readonly result: Promise<RunResult>
  /**
   * Resolves true once the run's store holds it (a durable run is created in its store after
   * `start()` returns, and starts then), false when it never will: the run is not durable, or its
   * store refused it (the result says why). Await it before telling anyone the run was accepted:
   * a crash before then loses the run, a crash after it leaves the run resumable.
   */
  readonly saved: Promise<boolean>
  /** Cancels the run. */
  cancel(reason?: string): void
  /**
   * After {@link cancel}: resolves true once the run's store holds the cancel (its `stop` entry is
   * durable, so a crash after it starts nothing new of the run on resume), false when there is
   * nothing to hold (the run is not durable, was not cancelled, or the store refused it). Await it
   * before telling anyone the cancel was accepted.
   */
  cancelSaved(): Promise<boolean>
  /** Current status of one task. */
  taskStatus(taskId: string): TaskStatus | undefined
  /** Adds a task to the running workflow. */
  addTask(task: TaskSpec): void
  /** Listens to one event of this run. */
  on<K extends EventName>(name: K, listener: (event: { readonly type: K } & EventMap[K]) => unknown): Unsubscribe
  /** Listens to every event of this run. */
  onAny(listener: (event: TaskweaveEvent) => unknown): Unsubscribe
  /** Every event of this run as an async iterator; ends when the run ends. */
  events(options?: { readonly signal?: AbortSignal }): AsyncIterableIterator<TaskweaveEvent>
}

/** The engine. Dispose it (`await using`) to cancel what still runs. */
export interface Engine extends AsyncDisposable {
  readonly registry: ToolRegistry
  /** Background work beside conversations: functions, workflows and state machines per conversation. */
  readonly background: ConcurrentExecutor
  /** The agent session pool (health, metrics, direct and streaming execution), when agents were given. */
  readonly agents: AgentSessionPool | undefined
  readonly clock: Clock
  /** Events of every run. */
  readonly events: EventEmitter
  /** Validates and compiles a definition (throws `TW_VALIDATION` listing every problem). */
  compile(definition: WorkflowInput, options?: { readonly file?: string }): CompiledWorkflow
  /** Reads, validates and compiles a YAML or JSON workflow file. */
  load(file: string, options?: LoadOptions): Promise<CompiledWorkflow>
  /**
   * Starts a run and returns at once; subscribe to its events before awaiting `result`. Throws
   * (`TW_VALIDATION`, `TW_INVALID_OPTION`) when the run cannot start: an invalid workflow, inputs
   * or options. Once it returns, `result` never rejects: every failure is in the result.
   */
  start(definition: WorkflowInput, options?: RunOptions): RunHandle
  /**
   * Runs a workflow to its end. Never throws synchronously: the promise rejects
   * (`TW_VALIDATION`, `TW_INVALID_OPTION`) only when the run cannot start, and otherwise resolves
   * with the result, whatever happened to the tasks.
   */
  run(definition: WorkflowInput, options?: RunOptions): Promise<RunResult>
  /**
   * Runs every tool call of the engine's own runner inside `wrapper(attempt, run)`, which must
   * call `run()` once, synchronously, and return what it returns: to make a scope the tool's
   * code runs in (an OpenTelemetry context, so a tool's spans are children of its attempt's;
   * an AsyncLocalStorage store). Wrappers given later run inside those given earlier. Attempts
   * sent to workers (a `runner` or transport of your own) are not wrapped. Returns the function
   * that removes the wrapper.
   */
  wrapAttempts(wrapper: AttemptWrapper): Unsubscribe
  /**
   * Changes the number of attempts that may run at once across all runs (load-aware scaling).
   * Lowering it interrupts nothing: running attempts finish, new ones wait.
   */
  setConcurrency(concurrency: number): void
  /** The store of durable runs, when the engine was given one. */
  readonly store: RunStore | undefined
  /**
   * Resumes a durable run that did not finish: its pinned definition is compiled again with this
   * engine's tools, the journal is replayed (finished tasks never run again), and what was in
   * flight runs again with the same idempotency key. Rejects with `TW_STORE_NOT_FOUND`, or
   * `TW_INVALID_STATE` when the run has finished or another live process owns it.
   */
  resume(runId: string, options?: ResumeOptions): Promise<RunHandle>
  /**
   * Resumes every unfinished run of the store that no live process owns, and resolves their
   * handles. A run that cannot be resumed here (its pinned definition names a tool this engine
   * lacks, its journal cannot be read) stays unfinished in the store: it is logged and reported
   * as a `run:resume-failed` event, and the others are resumed all the same. A store that fails
   * (a retryable `TW_STORE`) rejects the call.
   */
  resumeUnfinished(options?: ResumeOptions): Promise<RunHandle[]>
  /**
   * Records what happened to a parked task (`onUncertain: 'park'`), whose attempt's outcome a
   * resume could not know: it `succeeded` (with its output), `failed`, or must `retry`. The run
   * stays unfinished; {@link resume} then goes on from that decision. Rejects with
   * `TW_INVALID_STATE` when the task is not waiting for one (naming those that are), or the run is
   * running or finished.
   */
  resolveParked(runId: string, taskId: string, decision: ParkedDecision, options?: ResolveParkedOptions): Promise<ParkedResolution>
  /** The tasks of an unfinished durable run that wait for an operator's decision (none for a finished or unknown run). */
  parkedTasks(runId: string): Promise<readonly ParkedTask[]>
  /**
   * Runs a durable run that ended `failed`, `partial` or `cancelled` again from where it failed
   * (an operator's retry, or redrive): the store reopens it, recording who (`options.by`) and
   * when, and it is resumed here. Tasks that succeeded never run again; each failed task (or
   * those in `options.tasks`) runs again with the same idempotency key and its retry budget whole
   * again, and what its failure skipped or the stop cancelled runs once its parents allow.
   * Rejects with `TW_INVALID_STATE` when the run is running or succeeded, a task named is not one
   * that failed, or the store cannot reopen runs; `TW_STORE_NOT_FOUND` when there is none.
   */
  retry(runId: string, options?: RetryRunOptions): Promise<RunHandle>
  /**
   * Cancels a durable run that did not finish, without running anything: one a crash left that
   * nobody wants resumed, or a parked one given up. Its tasks keep what the journal says of them;
   * the rest are cancelled; the store marks it `cancelled`, with `options.reason`. A run running in
   * this engine is cancelled as its handle's `cancel()` would. Rejects with `TW_INVALID_STATE` when
   * the run has finished or another live process holds it, `TW_STORE_NOT_FOUND` when there is none.
   */
  cancelUnfinished(runId: string, options?: CancelUnfinishedOptions): Promise<CancelledRun>
  /** What is in use now: engine slots, and permits held and waited for per limiter key. */
  stats(): EngineStats
  /**
   * Cancels every active run and background task, waits for them to end, and closes the agent
   * pool within its grace period (`agentPool.closeTimeout`). Durable runs are suspended rather
   * than cancelled: they stay unfinished in the store, their leases released, ready to resume. Resolves with what had to be
   * abandoned (agent code that ignored its abort signal). Idempotent (a second call's options change nothing).
   */
  close(options?: EngineCloseOptions): Promise<EngineCloseReport>
}

/** What {@link Engine.close} could not stop cleanly. */
export interface EngineCloseReport {
  /** True when everything the engine started ended within its grace period. */
  readonly clean: boolean
  /**
   * What was still running when the engine stopped waiting: agent calls (create, execute,
   * dispose) past the agent pool's grace period, and tool calls that had not returned
   * {@link TOOL_CLOSE_GRACE_MS} ms after their runs ended (their tools ignore their abort signal;
   * `stage: 'tool'`, naming the run, task and attempt).
   */
  readonly abandoned: readonly (AbandonedWork | AbandonedToolCall)[]
}

/** A snapshot of the engine's limits, from {@link Engine.stats}. */
export interface EngineStats {
  /** Engine slots: in use now, and in all. */
  readonly slots: { readonly used: number; readonly capacity: number }
  /** Runs not yet finished. */
  readonly activeRuns: number
  /** Keys of the keyed limiter with holders or waiters (`group:llm`, …). */
  readonly keys: readonly KeyStats[]
  /** Rate keys in use: calls in flight and waiting, the adaptive limit, what is left of each budget, a pause. */
  readonly rates: readonly RateKeyStats[]
  /** Load-aware scaling, when on: the slot count now, its bounds, the last readings, changes so far. */
  readonly autoscale?: LoadScalerStats
  /** The run store, when the engine has one: whether it takes the journal's writes now. */
  readonly store?: StoreStats
  /** The runner, when it tells (a remote runner does): whether it can hand attempts to workers now. */
  readonly runner?: RunnerHealth
}

/**
 * Whether the engine's run store takes writes, from {@link Engine.stats}. While it does not
 * (read-only, full, unreachable past the journal's quick retries), durable runs start nothing
 * new; they go on once it does, or stop after `durability.storeOutageLimit`.
 */
export interface StoreStats {
  /** Where the store is (a file path, a URL without its password). */
  readonly location: string
  readonly available: boolean
  /** The store's last error, while unavailable. */
  readonly error?: string
  /** While unavailable: since when, in epoch ms. */
  readonly since?: number
}

/**
 * Creates an engine.
 * @example
 * await using engine = createEngine({ tools: [summarize], concurrency: 8 })
 * const result = await engine.run(flow, { inputs: { topic: 'otters' } })
 * console.log(result.status, result.tasks['summary']?.output)
 */
export function createEngine(options: EngineOptions = {}): Engine {
  refuseUnknownOptions('createEngine', options, ENGINE_OPTION_NAMES)
  refuseUnknownGroupOptions(options)
  checkEnginePorts(options)
  const concurrency = options.concurrency ?? 64
  if (!isSlotCount(concurrency)) throw new InvalidOptionError('concurrency', SLOT_COUNT, concurrency)
  const groupLimits = checkGroupLimits(options.groups)
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  if (!(maxOutputBytes > 0)) throw new InvalidOptionError('maxOutputBytes', 'a positive number of bytes', maxOutputBytes)
  const maxInputBytes = options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES
  if (!(maxInputBytes > 0)) throw new InvalidOptionError('maxInputBytes', 'a positive number of bytes', maxInputBytes)
  const maxForEachItems = options.maxForEachItems ?? 100_000
  if (!(maxForEachItems >= 0)) throw new InvalidOptionError('maxForEachItems', 'a number ≥ 0', maxForEachItems)
  const registry = buildToolRegistry(options.builtins, options.tools, 'createEngine')
  const clock = options.clock ?? systemClock
  const agentList = [...(options.agents ?? [])]
  // One limiter for every kind of work: runs' groups and sessions, and the agent pool's places.
  const limiter = new KeyedLimiter()
  const agents = agentList.length > 0 ? new AgentSessionPool({ ...options.agentPool, agents: agentList, limiter, ...(options.clock ? { clock: options.clock } : {}) }) : undefined
  /** The tools the agent pool answers for (see close()). */
  const agentToolNames = new Set<string>()
  if (agents !== undefined) {
    for (const agent of agentList) {
      const tool = createAgentTool(agents, agent.name)
      registry.register(tool)
      agentToolNames.add(tool.name)
    }
  }
  const logger = options.logger ?? silentLogger
  const events = new EventEmitter([], logger)
  // The engine's own runner, when no other was given: wrapAttempts() wraps its tool calls.
  const runner = options.runner ?? new LocalAttemptRunner({ lookup: (name) => registry.get(name), clock, logger })
  const localRunner = options.runner === undefined ? (runner as LocalAttemptRunner) : undefined
  const wrappers: AttemptWrapper[] = []
  const env = {
    clock,
    random: options.random ?? Math.random,
    logger,
    registry,
    runner,
    plainRequests: options.runner !== undefined,
    slots: new SlotPool(concurrency),
    limiter,
    groupLimits,
    rates: new RateLimiter(clock, resolveRateTable('rates', options.rates)),
    events,
    toolStats: new ToolStats(),
    maxOutputBytes,
    maxForEachItems,
    onRunEnded: (run: object) => runEnded(run as RunExecution),
  }
  const store = options.store
  const durability = resolveDurability(options.durability)
  /** Set while the store refuses the journal's writes (runs dispatch nothing new meanwhile). */
  let storeOutage: { readonly error: string; readonly since: number } | undefined
  const journal =
    store === undefined
      ? undefined
      : new Journal({
          store,
          clock,
          logger,
          owner: durability.owner,
          leaseTtlMs: durability.leaseTtlMs,
          outageLimitMs: durability.storeOutageLimitMs,
          onAvailability: (state) => {
            storeOutage = state.available || state.gaveUp === true ? undefined : { error: state.error ?? 'unknown', since: state.since }
            if (state.gaveUp === true) return
            if (state.available) events.emit({ type: 'store:available', at: clock.now(), store: store.location, downMs: state.downMs ?? 0 })
            else events.emit({ type: 'store:unavailable', at: clock.now(), store: store.location, error: state.error ?? 'unknown', since: state.since })
          },
        })
  const durableRuns = new WeakSet<RunExecution>()
  /** Whether its store took each durable run started here (see {@link RunHandle.saved}). */
  const savedRuns = new WeakMap<RunExecution, Promise<boolean>>()
  const pruner = store !== undefined && durability.retentionMs !== undefined ? new RetentionPruner(store, clock, logger, durability.retentionMs) : undefined
  pruner?.tick()
  /** Runs not finished (an {@link IndexedSet}, not a `Set`: see why there). */
  const active = new IndexedSet<RunExecution>()
  /**
   * The active runs by id, kept only once something asked for one (the server, for a run started
   * beside it; a run or resume given an id, refused while a live run has it): a search of `active`
   * per ask was quadratic in the runs at once, and an engine nobody asks pays nothing. A dictionary, not a `Map` (see `core/indexed-set.ts`).
   */
  let activeById: Record<string, RunExecution> | undefined
  /** Ids of the runs being resumed (between the first read of the store and joining `active`). */
  const resuming = new Set<string>()
  /** Resumes reading the store, each settling when it has started its run or given its lease back: close() waits for them. */
  const resumesInFlight = new Set<Promise<void>>()
  let closing: Promise<EngineCloseReport> | undefined
  /** A run ended (see `RunEnvironment.onRunEnded`): it leaves the active runs, and a durable one lets the store prune. */
  const runEnded = (execution: RunExecution): void => {
    active.delete(execution)
    if (activeById !== undefined) delete activeById[execution.id]
    keepRunShapesSoon()
    if (durableRuns.has(execution)) pruner?.tick()
  }
  const resize = (next: number): void => {
    env.slots.setCapacity(next)
    // Runs not waiting for a slot may start more now.
    for (const execution of active) execution.wake()
  }
  const scaler = options.autoscale === undefined || options.autoscale === false ? undefined : createScaler(options.autoscale === true ? {} : options.autoscale)
  function createScaler(settings: AutoscaleOptions): LoadScaler {
    if (!Number.isInteger(concurrency)) throw new InvalidOptionError('concurrency', 'a whole number when autoscale is on (it is the ceiling autoscale climbs back to)', concurrency)
    return new LoadScaler({
      ...settings,
      max: concurrency,
      clock,
      logger,
      target: {
        setCapacity: resize,
        get capacity() {
          return env.slots.capacity
        },
      },
      onChange: (change) => events.emit({ type: 'engine:scaled', at: clock.now(), ...change }),
    })
  }
  scaler?.start()

  // Tools are only ever added to the registry (never replaced), so a definition that compiled
  // once compiles the same way again.
  const compileCache = new CompileCache()
  /** Compiled workflows whose tools are known to the registry. */
  const known = new WeakSet<CompiledWorkflow>()
  /** A definition the cache does not hold yet (one function for every call: a closure per call would cost a context per run). */
  const compileFresh = (definition: WorkflowInput): CompiledWorkflow => compiledHere(compileWorkflow(definition, { registry }))
  const compile = (definition: WorkflowInput, compileOptions: { readonly file?: string } = {}): CompiledWorkflow => {
    if (isCompiled(definition)) return known.has(definition) ? definition : adoptCompiled(definition)
    if (isBuilt(definition) || compileOptions.file !== undefined) return compileUncached(definition, compileOptions)
    return compileCache.get(definition, compileFresh)
  }
  /**
   * A workflow compiled by another engine may call tools this one has not seen: the runner finds
   * tools by name, so they are registered (once per workflow).
   */
  const adoptCompiled = (definition: CompiledWorkflow): CompiledWorkflow => {
    // Consecutive tasks mostly call one tool: looked up once per run of them, with nothing allocated
    // (an executor batch of 10,000 calls has 10,000 shapes of one tool).
    // An indexed loop: `for…of` makes an iterator result per shape until V8 optimizes the loop.
    let last: AnyTool | undefined
    const shapes = definition.shapes
    for (let k = 0; k < shapes.length; k++) {
      const shape = shapes[k] as TaskShape
      if (shape.tool === last || shape.tool === undefined) continue
      last = shape.tool
      if (registry.get(shape.toolName) !== shape.tool) registry.register(shape.tool)
    }
    known.add(definition)
    return definition
  }
  /** A built workflow (its tools registered first) or one read from a file: compiled each time, not cached. */
  const compileUncached = (definition: Exclude<WorkflowInput, CompiledWorkflow>, compileOptions: { readonly file?: string }): CompiledWorkflow => {
    if (isBuilt(definition)) {
      for (const tool of definition.tools) registry.register(tool)
      return compiledHere(compileWorkflow(definition.spec, { registry, ...compileOptions }))
    }
    return compiledHere(compileWorkflow(definition, { registry, ...compileOptions }))
  }
  /**
   * A workflow this engine compiled calls only tools of its registry: known at once, so running it
   * later does not look through its shapes (10,000 of them for an executor batch of 10,000 calls).
   */
  const compiledHere = (workflow: CompiledWorkflow): CompiledWorkflow => {
    known.add(workflow)
    return workflow
  }

  /**
   * Runs made and not started yet, in the order they were made: one microtask starts them all
   * (a closure and a microtask per run were a tenth of what a small run allocated beside its tasks).
   */
  let toStart: RunExecution[] = []
  const startQueued = (): void => {
    const runs = toStart
    toStart = []
    for (let k = 0; k < runs.length; k++) {
      try {
        ;(runs[k] as RunExecution).start()
      } catch (err) {
        // Never expected; it surfaces as it did when each run started on a microtask of its own,
        // and the runs after it still start.
        rethrowUncaught(err)
      }
    }
  }

  /**
   * Makes a run and starts it on the next microtask; `engine.run()` needs only its result, so the
   * handle is made by {@link start} alone. `handleEvents`: the emitter of the run's handle; a run
   * without one emits to the engine's.
   */
  const launch = (definition: WorkflowInput, runOptions: RunOptions = {}, handleEvents?: EventEmitter, createdAt?: number): RunExecution => {
    if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine is closed', { retryable: false })
    refuseUnknownOptions('run', runOptions, RUN_OPTION_NAMES)
    checkSignal(runOptions.signal)
    checkRunOptionKinds(runOptions)
    if (runOptions.groupScope !== undefined && runOptions.groupScope !== 'engine' && runOptions.groupScope !== 'run') {
      throw new InvalidOptionError('groupScope', '"engine" or "run"', runOptions.groupScope)
    }
    const compiled = compile(definition)
    if (runOptions.runId !== undefined) {
      checkRunId(runOptions.runId)
      // Two live runs of one id would mix their events, their store records and their handles.
      if (isActive(runOptions.runId)) throw new TaskweaveError('TW_INVALID_STATE', `a run with id "${runOptions.runId}" is running in this engine: give each run its own runId`, { retryable: false, details: { runId: runOptions.runId } })
    }
    // A private copy, frozen: no task can change what the others (or the report) see.
    const inputs = freezeDeep(resolveInputs(compiled, runOptions.inputs ?? {}, maxInputBytes))
    // Without a limit of its own a run is bounded by the engine's slots alone, which may change at run time.
    const runConcurrency = runOptions.concurrency ?? compiled.concurrency ?? Infinity
    if (!isSlotCount(runConcurrency)) throw new InvalidOptionError('concurrency', SLOT_COUNT, runConcurrency)
    // Refused before the run exists: a run that is never started must not be left among the active ones.
    if (runOptions.durable === true && journal === undefined) throw new InvalidOptionError('durable', 'false unless the engine has a store (createEngine({ store }))', true)
    const runEvents = handleEvents ?? events
    const execution = new RunExecution(
      compiled,
      env,
      // One literal of a fixed shape (absent options undefined): no spread per option, one per run.
      {
        inputs,
        concurrency: runConcurrency,
        failFast: runOptions.failFast ?? compiled.failFast,
        runId: runOptions.runId,
        budget: runOptions.budget !== undefined ? checkBudget(runOptions.budget) : undefined,
        signal: runOptions.signal,
        onTaskComplete: runOptions.onTaskComplete,
        groupScope: runOptions.groupScope,
      },
      runEvents,
    )
    active.add(execution)
    if (activeById !== undefined) activeById[execution.id] = execution
    const durable = runOptions.durable ?? journal !== undefined
    if (durable && journal !== undefined && store !== undefined) startDurable(execution, compiled, inputs, runOptions, store, journal, createdAt ?? clock.wallNow())
    // Start on the next microtask so the caller can subscribe to events first.
    else if (toStart.push(execution) === 1) onMicrotask(startQueued)
    return execution
  }

  /**
   * Starts a durable run once the store has accepted it (its definition and lease are durable).
   * Apart from {@link launch}, whose every call would otherwise make a context for what these
   * callbacks read, durable or not.
   */
  const startDurable = (execution: RunExecution, compiled: CompiledWorkflow, inputs: Readonly<Record<string, unknown>>, runOptions: RunOptions, runStore: RunStore, runJournal: Journal, createdAt: number): void => {
    durableRuns.add(execution)
    const record = newRunRecord(compiled, execution.id, inputs, {
      ...(runOptions.concurrency ?? compiled.concurrency) !== undefined ? { concurrency: runOptions.concurrency ?? compiled.concurrency } : {},
      failFast: runOptions.failFast ?? compiled.failFast,
      ...(runOptions.groupScope !== undefined ? { groupScope: runOptions.groupScope } : {}),
      ...(runOptions.budget !== undefined ? { budget: runOptions.budget } : {}),
    }, runOptions.labels, createdAt)
    let settleSaved!: (saved: boolean) => void
    savedRuns.set(execution, new Promise<boolean>((resolve) => (settleSaved = resolve)))
    createOrReadBack(runStore, record).then(
      (lease) => {
        settleSaved(true)
        crashPoint('run.afterCreate')
        // Cancelled (or the engine closed) while the store was accepting it: nothing ran, and the
        // run stays resumable.
        if (execution.isFinished) return void runStore.release([lease]).catch(() => undefined)
        execution.attachJournal(runJournal, lease, undefined, durability.maxStartsWithoutOutcome, record.definition)
        execution.start()
      },
      (err: unknown) => {
        settleSaved(false)
        execution.refuse(`the run store (${runStore.location}) did not accept the run: ${err instanceof Error ? err.message : String(err)}`)
      },
    )
  }

  /**
   * Creates the run in the store. A creation whose outcome is unknown (the connection broke as it
   * committed) is read back: a run made by it, under this engine's lease, is the run (otherwise it
   * would be left in the store for another process to run as one nobody started); anything else
   * refuses it as before.
   */
  const createOrReadBack = async (runStore: RunStore, record: NewRun): Promise<Lease> => {
    const lease = { owner: durability.owner, ttlMs: durability.leaseTtlMs, now: clock.wallNow() }
    try {
      return await runStore.createRun(record, lease)
    } catch (err) {
      if (!TaskweaveError.is(err) || (err.details as { readonly uncertain?: unknown } | undefined)?.uncertain !== true) throw err
      const stored = await readBack(runStore, record.runId)
      const held = stored?.lease
      // This very creation, not another run of the id: the same record, under this engine's first lease, with nothing journaled yet.
      const same = stored !== undefined && stored.createdAt === record.createdAt && stored.definition === record.definition && stored.inputs === record.inputs && stored.settings === record.settings && stored.entries.length === 0
      if (!same || stored.status !== 'running' || held === undefined || held.owner !== durability.owner || held.epoch !== 1) throw err
      logger.info('a run whose creation had an unknown outcome was found in the store; it starts', { runId: record.runId, store: runStore.location })
      return held
    }
  }

  /**
   * Reads a run back after a write whose outcome is unknown, tried three times (0, 100 and 300 ms):
   * the break that lost the answer often took the pool's other connections with it, and the first
   * read may go out on one of them. Undefined when it cannot be read.
   */
  const readBack = async (runStore: RunStore, runId: string): Promise<StoredRun | undefined> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await runStore.load(runId)
      } catch (err) {
        if (attempt >= 3 || !(TaskweaveError.is(err) && err.retryable)) return undefined
        await new Promise<void>((resolve) => clock.setTimer(100 * attempt, resolve))
      }
    }
  }

  const start = (definition: WorkflowInput, runOptions?: RunOptions): RunHandle => {
    // Only a handle can subscribe to one run's events.
    const runEvents = new EventEmitter([events])
    const createdAt = clock.wallNow()
    return handleOf(launch(definition, runOptions, runEvents, createdAt), runEvents, createdAt)
  }

  const handleOf = (execution: RunExecution, runEvents: EventEmitter, createdAt: number): RunHandle => {
    const control: RunControl = { runId: execution.id, addTask: (task) => execution.addTask(task) }
    return {
      id: execution.id,
      createdAt,
      result: execution.result,
      saved: savedRuns.get(execution) ?? (durableRuns.has(execution) ? SAVED : NOT_SAVED),
      cancel: (reason) => execution.cancel(reason),
      cancelSaved: () => execution.stopSaved(),
      taskStatus: (taskId) => execution.taskStatus(taskId),
      addTask: (task) => control.addTask(task),
      on: (name, listener) => runEvents.on(name, listener),
      onAny: (listener) => runEvents.onAny(listener),
      events: (streamOptions = {}) => runEvents.stream({ until: execution.result, ...(streamOptions.signal ? { signal: streamOptions.signal } : {}) }),
    }
  }

  const requireStore = (): { store: RunStore; journal: Journal } => {
    if (store === undefined || journal === undefined) throw new TaskweaveError('TW_INVALID_STATE', 'this engine has no run store: create it with createEngine({ store })', { retryable: false })
    return { store, journal }
  }

  const retry = async (runId: string, retryOptions: RetryRunOptions = {}): Promise<RunHandle> => {
    refuseUnknownOptions('retry', retryOptions, ['tasks', 'by', 'signal', 'onTaskComplete'])
    checkRetryOptions(retryOptions)
    checkSignal(retryOptions.signal)
    retryOptions.signal?.throwIfAborted()
    if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine is closed', { retryable: false })
    const { store: runStore, journal: runJournal } = requireStore()
    if (isActive(runId)) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is running in this engine`, { retryable: false, details: { runId } })
    const resumeOptions: ResumeOptions = { ...(retryOptions.signal !== undefined ? { signal: retryOptions.signal } : {}), ...(retryOptions.onTaskComplete !== undefined ? { onTaskComplete: retryOptions.onTaskComplete } : {}) }
    // What would stop the resume is found before the store reopens the run: a reopened run that
    // could not be resumed here would be left running, neither finished nor retryable.
    const resumable = (stored: StoredRun, replay: ReplayLog): void => {
      compile(readStoredRun(stored).definition as WorkflowInput)
      refuseUnknownAddedTools(replay, registry, runId)
      const parked = replay.parked()
      if (parked.length > 0) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" has ${parked.map((task) => `"${task.taskId}"`).join(', ')} parked (the outcome of an attempt is unknown): a retry cannot decide it`, { retryable: false, details: { runId } })
    }
    // Held like a resume from the first read: neither a resume nor a takeover here runs it meanwhile.
    return holdWhile(runId, async () => {
      await reopenForRetry({ store: runStore, clock, owner: durability.owner, leaseTtlMs: durability.leaseTtlMs }, runId, retryOptions, resumable)
      if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine closed while the run was being retried; it is reopened and resumes with the next engine', { retryable: false, details: { runId } })
      // Reopened under this engine's lease: the resume takes it again and replays the journal, whose
      // `reopen` entry turns the retried failures into retries due now.
      return resumeHeld(runId, resumeOptions, runStore, runJournal)
    })
  }

  /** Runs `work` with run `runId` marked as being resumed here (see {@link resume}), and `close()` waiting for it. */
  const holdWhile = async (runId: string, work: () => Promise<RunHandle>): Promise<RunHandle> => {
    resuming.add(runId)
    const held = work()
    const settled = held.then(
      () => undefined,
      () => undefined,
    )
    resumesInFlight.add(settled)
    try {
      return await held
    } finally {
      resuming.delete(runId)
      resumesInFlight.delete(settled)
    }
  }

  const resume = async (runId: string, resumeOptions: ResumeOptions = {}): Promise<RunHandle> => {
    refuseUnknownOptions('resume', resumeOptions, ['signal', 'onTaskComplete'])
    checkSignal(resumeOptions.signal)
    // Aborted already: nothing is read or taken over, and the stored run stays as it was.
    resumeOptions.signal?.throwIfAborted()
    if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine is closed', { retryable: false })
    const { store: runStore, journal: runJournal } = requireStore()
    if (isActive(runId)) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is running in this engine`, { retryable: false, details: { runId } })
    // Every store grants its lease again to the same owner: without this mark, a second resume
    // while the first awaits the store would also win and run the interrupted task twice.
    return holdWhile(runId, () => resumeHeld(runId, resumeOptions, runStore, runJournal))
  }

  /** Whether run `runId` is running or being resumed in this engine. */
  /** The active run of an id, through {@link activeById} (made on first use, then kept with `active`). */
  const activeRun = (runId: string): RunExecution | undefined => {
    if (activeById === undefined) {
      activeById = Object.create(null) as Record<string, RunExecution>
      for (const execution of active) activeById[execution.id] = execution
    }
    return activeById[runId]
  }
  const isActive = (runId: string): boolean => resuming.has(runId) || activeRun(runId) !== undefined

  /** {@link resume} once the run is marked as being resumed here. */
  const resumeHeld = async (runId: string, resumeOptions: ResumeOptions, runStore: RunStore, runJournal: Journal): Promise<RunHandle> => {
    // The lease first: once the epoch has moved on, no earlier owner can append, so the journal
    // read next is complete. (The whole run is read once, after: a journal can be large.)
    const lease = await runStore.acquire(runId, resumeLeaseRequest(runStore, durability.owner, durability.leaseTtlMs, clock.wallNow()))
    if (lease === undefined) {
      const held = await runStore.load(runId)
      if (held !== undefined && held.status !== 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" has finished (${held.status}): there is nothing to resume`, { retryable: false, details: { runId, status: held.status } })
      const owner = held?.lease
      throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is owned by ${owner?.owner ?? 'another process'}${owner ? ` until ${new Date(owner.expiresAt).toISOString()}` : ''}: resume it once that lease has expired`, { retryable: true, details: { runId } })
    }
    crashPoint('resume.afterAcquire')
    let stored: StoredRun | undefined
    let compiled: CompiledWorkflow
    let replay: ReplayLog
    let read: ReturnType<typeof readStoredRun>
    try {
      stored = await runStore.load(runId)
      if (stored === undefined || stored.status !== 'running') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" finished while it was being resumed`, { retryable: false, details: { runId } })
      read = readStoredRun(stored)
      // The pinned definition, compiled against this engine's tools (TW_VALIDATION names a tool
      // that is not registered).
      compiled = compile(read.definition as WorkflowInput)
      replay = new ReplayLog(stored.entries, runId)
      // Tasks added at run time are in the journal, not in the pinned definition: one whose tool
      // this engine lacks is refused here, before anything runs, as the definition's are.
      refuseUnknownAddedTools(replay, registry, runId)
      warnIfJournalAhead(stored.entries, runId, clock.wallNow(), logger)
      const parked = replay.parked()
      if (parked.length > 0) {
        parkedAtEpoch.set(runId, lease.epoch)
        const names = parked.map((task) => `"${task.taskId}"`).join(', ')
        throw new TaskweaveError('TW_PARKED', `run "${runId}" is parked: ${names} wait${parked.length === 1 ? "s" : ""} for an operator to record what happened (${resolveHint(runId, (parked[0] as ParkedTask).taskId)}, or engine.resolveParked()); ${(parked[0] as ParkedTask).reason}`, { retryable: false, details: { runId, parked: parked.map((task) => ({ taskId: task.taskId, attempt: task.attempt })) } })
      }
      // close() may have begun while the store was read: it waits for this resume, which then
      // gives the lease back instead of starting a run on a closing engine.
      if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine closed while the run was being resumed', { retryable: false, details: { runId } })
    } catch (err) {
      await runStore.release([lease])
      throw err
    }
    const { inputs, settings } = read
    const runEvents = new EventEmitter([events])
    const execution = new RunExecution(
      compiled,
      env,
      {
        runId,
        inputs: freezeDeep(inputs),
        concurrency: settings.concurrency ?? Infinity,
        failFast: settings.failFast,
        ...(settings.groupScope !== undefined ? { groupScope: settings.groupScope } : {}),
        ...(settings.budget !== undefined ? { budget: settings.budget } : {}),
        ...(resumeOptions.signal !== undefined ? { signal: resumeOptions.signal } : {}),
        ...(resumeOptions.onTaskComplete !== undefined ? { onTaskComplete: resumeOptions.onTaskComplete } : {}),
      },
      runEvents,
    )
    execution.attachJournal(runJournal, lease, replay, durability.maxStartsWithoutOutcome, stored.definition)
    // A run that parks gives its lease up at this epoch.
    runEvents.on('run:parked', () => void parkedAtEpoch.set(runId, lease.epoch))
    durableRuns.add(execution)
    active.add(execution)
    if (activeById !== undefined) activeById[execution.id] = execution
    // After the caller's continuation (which may subscribe to events) has run.
    setImmediate(() => execution.start())
    return handleOf(execution, runEvents, stored.createdAt)
  }

  const resolveParked = async (runId: string, taskId: string, decision: ParkedDecision, resolveOptions: ResolveParkedOptions = {}): Promise<ParkedResolution> => {
    refuseUnknownOptions('resolveParked', resolveOptions, ['signal'])
    checkSignal(resolveOptions.signal)
    const checked = checkDecision(decision)
    if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine is closed', { retryable: false })
    const { store: runStore, journal: runJournal } = requireStore()
    if (resuming.has(runId)) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is being resumed, or decided, in this engine: try again once that is done`, { retryable: true, details: { runId } })
    if (isActive(runId)) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is running in this engine: it has no parked task`, { retryable: false, details: { runId } })
    // Held like a resume, so that neither runs while the other reads and writes the journal.
    resuming.add(runId)
    try {
      const limitOf = (tool: string | undefined): number => (tool !== undefined ? registry.get(tool)?.maxOutputBytes : undefined) ?? maxOutputBytes
      const resolution = await resolveParkedTask({ store: runStore, journal: runJournal, clock, owner: durability.owner, leaseTtlMs: durability.leaseTtlMs, maxOutputBytes: limitOf, logger }, runId, taskId, checked, resolveOptions)
      parkedAtEpoch.delete(runId)
      return resolution
    } finally {
      resuming.delete(runId)
    }
  }

  const cancelUnfinished = async (runId: string, cancelOptions: CancelUnfinishedOptions = {}): Promise<CancelledRun> => {
    refuseUnknownOptions('cancelUnfinished', cancelOptions, ['reason', 'signal'])
    checkSignal(cancelOptions.signal)
    if (closing !== undefined) throw new TaskweaveError('TW_CANCELLED', 'the engine is closed', { retryable: false })
    const { store: runStore, journal: runJournal } = requireStore()
    if (resuming.has(runId)) throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is being resumed, or decided, in this engine: try again once that is done`, { retryable: true, details: { runId } })
    const live = active.toArray().find((execution) => execution.id === runId)
    if (live !== undefined) {
      const reason = cancelOptions.reason ?? 'cancelled by an operator'
      live.cancel(reason)
      const result = await live.result
      if (result.status !== 'cancelled') throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" finished (${result.status}) before it could be cancelled`, { retryable: false, details: { runId, status: result.status } })
      return { runId, status: 'cancelled', counts: Object.fromEntries(Object.entries(result.counts).filter(([, n]) => n > 0)), reason }
    }
    // Held by this engine, yet not one of its runs: a record of its own background work.
    const held = await runStore.load(runId)
    const conversation = held?.labels['conversation']
    if (conversation !== undefined && held?.status === 'running' && records?.holds(runId) === true) {
      throw new TaskweaveError('TW_INVALID_STATE', `run "${runId}" is background task "${held.labels['backgroundTask'] ?? runId}" of conversation "${conversation}", running in this engine: cancel it with engine.background.cancel()`, { retryable: false, details: { runId } })
    }
    resuming.add(runId)
    try {
      return await cancelStoredRun({ store: runStore, journal: runJournal, clock, owner: durability.owner, leaseTtlMs: durability.leaseTtlMs }, runId, cancelOptions)
    } finally {
      resuming.delete(runId)
    }
  }

  /**
   * Runs seen parked, with the epoch of their lease then: until another process (an operator's
   * decision) takes the lease, a look for runs to resume passes them by without reading them.
   */
  const parkedAtEpoch = new Map<string, number>()
  const seenParked = (summary: RunSummary): boolean => summary.lease !== undefined && parkedAtEpoch.get(summary.runId) === summary.lease.epoch

  const resumeUnfinished = async (resumeOptions: ResumeOptions = {}): Promise<RunHandle[]> => {
    const { store: runStore } = requireStore()
    const handles: RunHandle[] = []
    const now = await leaseNow(runStore)
    for (const summary of await runStore.list({ status: 'running', limit: 10_000 })) {
      if (isActive(summary.runId) || seenParked(summary)) continue
      // Background work comes back under its conversation with engine.background.recover().
      if (summary.labels['conversation'] !== undefined) continue
      // Another live owner's run is left alone (an exclusive store's are the other engines of this process).
      const held = summary.lease
      if (held !== undefined && held.owner !== durability.owner && held.expiresAt > now && (!runStore.exclusive || otherLiveOwners(runStore, durability.owner)?.includes(held.owner) === true)) continue
      try {
        handles.push(await resume(summary.runId, resumeOptions))
        unresumable.delete(summary.runId)
      } catch (err) {
        if (closing !== undefined) break
        // Another process resumed it first, or it finished (or was pruned) meanwhile.
        if (TaskweaveError.is(err, 'TW_INVALID_STATE') || TaskweaveError.is(err, 'TW_STORE_NOT_FOUND')) continue
        // One run this engine cannot resume (a tool it lacks, a journal it cannot read) must not
        // keep the others from resuming; a store that fails (retryable) fails the call.
        if (!cannotResume(err)) throw err
        resumeFailed(summary.runId, err)
      }
    }
    return handles
  }

  /** Whether `err` says a run cannot be resumed here for a reason of its own (not a store that fails for a while). */
  const cannotResume = (err: unknown): boolean => TaskweaveError.is(err) && !err.retryable

  /** Runs this engine could not resume, with why: reported once, not at every take-over round. */
  const unresumable = new Map<string, string>()
  const resumeFailed = (runId: string, err: unknown): void => {
    const error = serializeError(err)
    const known = unresumable.get(runId) === error.message
    unresumable.set(runId, error.message)
    if (known) {
      logger.debug('a durable run still cannot be resumed', { runId, error: error.message })
      return
    }
    logger.error('a durable run cannot be resumed; it stays unfinished in the store', { runId, error: error.message })
    events.emit({ type: 'run:resume-failed', runId, at: clock.now(), error })
  }

  /** The time the store's leases go by: its own clock where it has one, else this engine's. */
  const leaseNow = (runStore: RunStore): Promise<number> | number => (runStore.now !== undefined ? runStore.now() : clock.wallNow())

  /** Resumes the runs whose owner's lease has expired (another process died holding them). */
  const takeOverExpired = async (): Promise<void> => {
    const { store: runStore } = requireStore()
    const now = await leaseNow(runStore)
    for (const summary of await runStore.list({ status: 'running', limit: 10_000 })) {
      const lease = summary.lease
      // A run of this engine's own whose lease expired is taken back too: it is one whose journal
      // gave up (the store was away), and the store must still see it end.
      if (lease === undefined || lease.expiresAt > now) continue
      if (summary.labels['conversation'] !== undefined || isActive(summary.runId) || seenParked(summary)) continue
      try {
        await resume(summary.runId)
        unresumable.delete(summary.runId)
        events.emit({ type: 'run:taken-over', runId: summary.runId, at: clock.now(), previousOwner: lease.owner, leaseExpiredAt: lease.expiresAt })
      } catch (err) {
        if (closing !== undefined) return
        // Another standby got there first, or the run finished meanwhile.
        if (TaskweaveError.is(err, 'TW_INVALID_STATE') || TaskweaveError.is(err, 'TW_STORE_CONFLICT') || TaskweaveError.is(err, 'TW_STORE_NOT_FOUND')) continue
        if (!cannotResume(err)) throw err
        resumeFailed(summary.runId, err)
      }
    }
  }
  let takeOverTimer: (() => void) | undefined
  const armTakeOver = (): void => {
    const every = durability.takeOverEveryMs
    if (every === undefined || store === undefined || closing !== undefined) return
    takeOverTimer = clock.setTimer(every, () => {
      takeOverTimer = undefined
      takeOverExpired()
        .catch((err: unknown) => logger.error('taking over runs of expired owners failed; trying again', { store: store.location, error: err instanceof Error ? err.message : String(err) }))
        .finally(armTakeOver)
    })
  }

  const records = store !== undefined && journal !== undefined ? backgroundRecorder({ store, journal, clock, logger, durability, resume, isActive }) : undefined
  // The engine's logger unless the executor has its own: what goes wrong in background work is told where the rest is.
  const background = new ConcurrentExecutor({ logger, ...options.background, engine: { clock, start, ...(records !== undefined ? { records } : {}) }, limiter })

  // Other engines of this process sharing the store must not take this one's runs as a dead
  // process's. Last, once nothing above can throw: a failed createEngine leaves no owner behind.
  const forgetOwner = store === undefined ? undefined : holdOwner(store, durability.owner)

  if (durability.resumeOnStart && store !== undefined) {
    // After the caller has had the engine (and could subscribe to its events).
    setImmediate(() => {
      resumeUnfinished().catch((err: unknown) => logger.error('resuming unfinished runs at start failed', { store: store.location, error: err instanceof Error ? err.message : String(err) }))
      background.recover().catch((err: unknown) => logger.error('recovering background work at start failed', { store: store.location, error: err instanceof Error ? err.message : String(err) }))
    })
  }

  armTakeOver()

  const close = (given?: EngineCloseOptions): Promise<EngineCloseReport> => {
    if (closing !== undefined) return closing
    // Anything but an object (`process.once('SIGTERM', engine.close)` passes the signal's name) is no options.
    const closeOptions: EngineCloseOptions = typeof given === 'object' && given !== null ? given : {}
    try {
      refuseUnknownOptions('close', closeOptions, ['reason'])
    } catch (err) {
      return Promise.reject(err)
    }
    const why = closeOptions.reason ?? 'the engine closed'
    closing ??= (async (): Promise<EngineCloseReport> => {
      scaler?.stop()
      takeOverTimer?.()
      takeOverTimer = undefined
      // A resume that is reading the store sees `closing` and gives its lease back.
      await Promise.all(resumesInFlight)
      // Durable runs are suspended first (those of background work too: they stay resumable);
      // then background tasks end, so their other workflows end cancelled with the executor's reason.
      const suspended = active.toArray().filter((execution) => durableRuns.has(execution))
      for (const execution of suspended) execution.suspend(`${why}; the run can be resumed (engine.resume("${execution.id}"))`)
      // A store that refuses writes is not waited for: what it has not taken is dropped (a resume
      // runs those tasks again), so the runs end now rather than after the outage limit.
      journal?.stopWaiting()
      await background.close()
      // Their records' last writes (a finish, or a creation still on its way) before the leases go.
      await records?.settled()
      const runs = active.toArray()
      for (const execution of runs) execution.cancel(closeOptions.reason ?? 'the engine is closing')
      await Promise.all([...suspended, ...runs].map((execution) => execution.result))
      try {
        if (journal !== undefined) await journal.releaseAll()
      } finally {
        forgetOwner?.()
      }
      await env.runner.close()
      env.rates.close()
      // The runs have ended and aborted their attempts' signals: a tool that honours its signal
      // returns within a moment, one that does not is named in the report.
      const [report] = await Promise.all([agents?.close({ force: true }), localRunner?.settle(TOOL_CLOSE_GRACE_MS)])
      // Read once both are done (a call may have returned while the agent pool closed); an agent's
      // call is the pool's to report, as its `execute` entry, not again as a tool call.
      const stuck = localRunner?.pendingCalls().filter((call) => !agentToolNames.has(call.tool))
      if (report !== undefined && !report.clean) logger.warn('the engine closed with agent work abandoned', { abandoned: report.abandoned.length, graceMs: report.graceMs })
      if (stuck !== undefined && stuck.length > 0) logger.warn(`the engine closed with ${stuck.length} tool call(s) still running (their tools ignore their abort signal)`, { tasks: stuck.slice(0, 10).map((call) => `${call.runId}/${call.taskId}`) })
      const abandoned = [...(report?.abandoned ?? []), ...(stuck ?? [])]
      return { clean: abandoned.length === 0, abandoned }
    })()
    return closing
  }

  const engine: Engine = {
    registry,
    agents,
    background,
    clock,
    events,
    compile,
    load: (file, loadOptions) => loadWorkflowFile(file, registry, loadOptions),
    start,
    run: (definition, runOptions) => {
      try {
        return launch(definition, runOptions).result
      } catch (err) {
        return Promise.reject(err)
      }
    },
    store,
    resume,
    resumeUnfinished,
    resolveParked,
    parkedTasks: async (runId) => parkedTasksOf(requireStore().store, runId),
    retry: (runId, retryOptions) => retry(runId, retryOptions),
    cancelUnfinished,
    wrapAttempts: (wrapper) => {
      if (typeof wrapper !== 'function') throw new InvalidOptionError('wrapAttempts', 'a function (attempt, run) => run()', wrapper)
      wrappers.push(wrapper)
      composeWrappers(localRunner, wrappers)
      return () => {
        const at = wrappers.indexOf(wrapper)
        if (at >= 0) wrappers.splice(at, 1)
        composeWrappers(localRunner, wrappers)
      }
    },
    setConcurrency: (next) => {
      if (!isSlotCount(next)) throw new InvalidOptionError('concurrency', SLOT_COUNT, next)
      // With autoscale on, the new value is the ceiling it works under.
      if (scaler !== undefined) scaler.setMax(next)
      else resize(next)
    },
    stats: () => ({
      slots: { used: env.slots.used, capacity: env.slots.capacity },
      activeRuns: active.size,
      keys: env.limiter.stats(),
      rates: env.rates.stats(),
      ...(scaler !== undefined ? { autoscale: scaler.stats() } : {}),
      ...(store !== undefined ? { store: { location: store.location, available: storeOutage === undefined, ...storeOutage } } : {}),
      ...(options.runner?.health !== undefined ? { runner: runnerHealth(options.runner) } : {}),
    }),
    close,
    [Symbol.asyncDispose]: async () => {
      await close()
    },
  }
  // A live view of the engine's runs (the server) reads the definition of a run started beside it.
  registerActiveWorkflows(engine, (runId) => activeRun(runId)?.workflow)
  return engine
}

function isCompiled(value: WorkflowInput): value is CompiledWorkflow {
  return isCompiledWorkflow(value)
}

function isBuilt(value: WorkflowInput): value is BuiltWorkflow {
  return typeof (value as BuiltWorkflow).spec === 'object' && Array.isArray((value as BuiltWorkflow).tools)
}

/** Sets the runner's one wrapper: `wrappers` nested, the first outermost; none when empty. */
function composeWrappers(runner: LocalAttemptRunner | undefined, wrappers: readonly AttemptWrapper[]): void {
  if (runner === undefined) return
  const list = [...wrappers]
  runner.wrapper =
    list.length === 0
      ? undefined
      : (attempt, run) => {
          const call = (k: number): unknown => (k === list.length ? run() : (list[k] as AttemptWrapper)(attempt, () => call(k + 1)))
          return call(0)
        }
}

/**
 * Throws `TW_VALIDATION` naming every task a journal says was added at run time whose tool (or
 * agent) the registry lacks: resumed without it, the run would finish with that work undone.
 */
function refuseUnknownAddedTools(replay: ReplayLog, registry: ToolRegistry, runId: string): void {
  const issues: ValidationIssue[] = []
  for (const { spec, addedBy } of replay.adds) {
    const isAgent = spec.tool === undefined && spec.agent !== undefined
    const name = isAgent ? `agent.${spec.agent as string}` : spec.tool
    if (name === undefined || registry.get(name) !== undefined) continue
    const by = addedBy === undefined ? 'through the run handle' : `by "${addedBy}"`
    issues.push({ taskId: spec.id, field: isAgent ? 'agent' : 'tool', message: `run "${runId}": task "${spec.id}", added ${by} before the restart, names ${isAgent ? `agent "${spec.agent as string}"` : `tool "${name}"`}, which this engine does not have: register it, then resume` })
  }
  if (issues.length > 0) throw new ValidationError(issues)
}

/** {@link RunHandle.saved} of a run held by a store from the start (a resumed one), and of one without a store. */
const SAVED = Promise.resolve(true)
const NOT_SAVED = Promise.resolve(false)

/** How long (real time) a closing engine waits for tool calls whose runs have ended to return: one that honours its abort signal returns within a turn or two. */
export const TOOL_CLOSE_GRACE_MS = 100

/** What a concurrency must be, for error messages. */
const SLOT_COUNT = 'a whole number ≥ 1 (or Infinity)'

/** A slot count: a whole number of at least 1, or Infinity (a string or a fraction would be taken as given and break the count). */
function isSlotCount(value: unknown): value is number {
  return value === Infinity || (Number.isSafeInteger(value) && (value as number) >= 1)
}

/**
 * Refuses engine options of the wrong kind before anything is built: a clock, logger, runner or
 * store without its methods, a `random` that is not a function, and `tools` that are not tools
 * made by `defineTool` would each fail later, at a first run or a first log line, as a bare
 * TypeError far from the call that gave them.
 */
function checkEnginePorts(options: EngineOptions): void {
  checkFunction(options.random, 'random')
  checkMethods(options.clock, 'clock', ['now', 'wallNow', 'setTimer'])
  checkMethods(options.logger, 'logger', ['debug', 'info', 'warn', 'error', 'child'])
  checkMethods(options.runner, 'runner', ['start', 'cancel', 'close'])
  checkMethods(options.store, 'store', ['createRun', 'acquire', 'renew', 'release', 'append', 'load', 'list', 'prune', 'close'])
  const tools: unknown = options.tools
  if (tools === undefined) return
  if (typeof tools !== 'object' || tools === null || typeof (tools as Iterable<unknown>)[Symbol.iterator] !== 'function') throw new InvalidOptionError('tools', 'an array of tools made by defineTool()', tools)
  let i = 0
  for (const tool of tools as Iterable<unknown>) {
    if (!isTool(tool)) throw new InvalidOptionError(`tools[${i}]`, 'a tool made by defineTool()', tool)
    i++
  }
}

/** A runner's health; one whose `health()` throws is taken as not ok, with its error, rather than failing every reader of the engine's stats. */
function runnerHealth(runner: AttemptRunner): RunnerHealth {
  try {
    return (runner.health as () => RunnerHealth).call(runner)
  } catch (err) {
    return { ok: false, since: 0, problem: `its health() failed: ${err instanceof Error ? err.message : String(err)}` }
  }
}

/**
 * Refuses run options of the wrong kind: a `failFast` of "yes" (taken as true), labels that are
 * not text (stored as given, then unreadable by the filters that match them) or text a store
 * cannot keep (see {@link isStorableText}), a handler or inputs
 * that are not what they say.
 */
function checkRunOptionKinds(options: RunOptions): void {
  if (options.failFast !== undefined && typeof options.failFast !== 'boolean') throw new InvalidOptionError('failFast', 'true or false', options.failFast)
  if (options.durable !== undefined && typeof options.durable !== 'boolean') throw new InvalidOptionError('durable', 'true or false', options.durable)
  checkCompletionHandlers(options.onTaskComplete)
  const inputs: unknown = options.inputs
  if (inputs !== undefined && (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs))) throw new InvalidOptionError('inputs', 'an object of input values', inputs)
  checkLabels(options.labels)
}

/** Refuses an `onTaskComplete` that is neither a handler nor an object of handlers by task id. */
function checkCompletionHandlers(handlers: unknown): void {
  if (handlers === undefined || typeof handlers === 'function') return
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers)) throw new InvalidOptionError('onTaskComplete', 'a function, or an object of functions by task id', handlers)
  for (const [taskId, handler] of Object.entries(handlers)) if (typeof handler !== 'function') throw new InvalidOptionError(`onTaskComplete.${taskId}`, 'a function', handler)
}

