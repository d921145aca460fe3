/**
 * `taskweave run <file> --server URL`: starts the workflow on a `taskweave serve` and follows it
 * there, with the server's tools, store and limits. The file is read and parsed here (bad YAML is
 * reported with its line, nothing sent); the server validates it against its tools.
 *
 * Ctrl-C (or SIGTERM, SIGHUP) detaches: the run goes on on the server, and the command says how to
 * follow it again, exiting with 128 + the signal's number (130 for Ctrl-C). With
 * `--cancel-on-exit` it cancels the run on the server instead and waits for it to end. A second
 * signal exits at once.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { basename } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { TaskweaveError } from '../../core/errors.js'
import { readWorkflowFile } from '../../workflow/load.js'
import { ApiClient } from '../api-client.js'
import type { StartRunBody } from '../api-client.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { followRemoteRun } from '../remote-report.js'
import { interruptedExitCode, onInterrupt } from '../signals.js'

/** Parsed arguments of `run --server`. */
export interface RemoteRunArgs {
  readonly file: string
  readonly server: string
  readonly token: string | undefined
  /** Deadline of each request, and how long a broken event stream is tried again (ms). */
  readonly timeoutMs: number
  readonly inputs: Readonly<Record<string, string>>
  readonly concurrency?: number
  readonly runId?: string
  readonly json: boolean
  readonly quiet: boolean
  readonly verbose: boolean
  /** Start it and return: print the run's id, do not follow. */
  readonly detach: boolean
  /** On Ctrl-C, cancel the run on the server instead of detaching. */
  readonly cancelOnExit: boolean
}

/** Runs the command; resolves to the exit code. */
export async function remoteRunCommand(args: RemoteRunArgs, io: CliIo): Promise<number> {
  const client = new ApiClient({ url: args.server, token: args.token, timeoutMs: args.timeoutMs })
  const parsed = await readWorkflowFile(args.file)
  let workflow = parsed.value
  // The same file runs here and on a server: a server never loads modules a client names (it runs
  // with the tools it was started with), so `tools:` stays here, said once.
  if (typeof workflow === 'object' && workflow !== null && !Array.isArray(workflow) && 'tools' in workflow) {
    const { tools: _named, ...rest } = workflow as Record<string, unknown>
    workflow = rest
    if (!args.quiet && !args.json) io.stderr(`note: ${args.file} names tool modules (tools:); they are not sent: the server runs its own (taskweave serve --tools …)`)
  }
  const detach = new AbortController()
  let interruptedBy: NodeJS.Signals | undefined
  // Chosen here, not by the server: a run whose start was interrupted or timed out can still be
  // named (shown, cancelled), whether or not the server made it.
  const chosenId = args.runId ?? randomUUID()
  let runId: string | undefined
  /** Set when a cancel was asked for before the server said the run's id. */
  let cancelWhenStarted = false
  /** The run has ended: a signal now only stops reading its summary (nothing to cancel). */
  let ended = false
  const cancel = (id: string, signal: NodeJS.Signals): void => {
    client.cancel(id, `cancelled from the command line (${signal})`).catch((error: unknown) => {
      io.stderr(`could not cancel run ${id}: ${error instanceof Error ? error.message : String(error)}`)
      detach.abort()
    })
  }
  const stopListening = onInterrupt((signal) => {
    interruptedBy = signal
    const again = signal === 'SIGINT' ? 'press Ctrl-C again' : `send ${signal} again`
    if (args.cancelOnExit && !ended) {
      io.stderr(`\ncancelling the run on ${client.url} (${again} to quit at once)…`)
      if (runId !== undefined) cancel(runId, signal)
      else cancelWhenStarted = true
      return
    }
    detach.abort()
  })
  try {
    let started: { readonly id: string }
    try {
      started = await startWithRetries(
        client,
        {
          workflow,
          inputs: args.inputs,
          labels: { file: basename(args.file).slice(0, 500) },
          runId: chosenId,
          ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
        },
        detach.signal,
      )
    } catch (error) {
      // No answer: the run may or may not have started there.
      const maybe = `it may have started there as run ${chosenId} (taskweave show ${chosenId} --server ${client.url})`
      if (detach.signal.aborted) {
        io.stderr(`interrupted while ${client.url} was starting the run: ${maybe}`)
        return interruptedExitCode(interruptedBy ?? 'SIGINT')
      }
      if (!isUnanswered(error)) throw error
      if (cancelWhenStarted) {
        // Cancelled while the start had no answer yet: cancelled by its id, in case it started.
        await client.cancel(chosenId, `cancelled from the command line (${interruptedBy ?? 'SIGINT'})`).then(
          () => io.stderr(`run ${chosenId} had started on ${client.url}; it is being cancelled`),
          () => io.stderr(`the start of the run had no answer; ${maybe}`),
        )
      } else io.stderr(`the start of the run had no answer; ${maybe}`)
      throw error
    }
    runId = started.id
    if (cancelWhenStarted) cancel(runId, interruptedBy ?? 'SIGINT')
    const hint = `taskweave show ${runId} --server ${client.url} --follow`
    if (args.detach) {
      io.stdout(args.json ? JSON.stringify({ id: runId, server: client.url }) : runId)
      if (!args.quiet) io.stderr(`run ${runId} started on ${client.url}; follow it with: ${hint}`)
      return EXIT.ok
    }
    if (!args.quiet) io.stderr(`run ${runId} on ${client.url} (Ctrl-C detaches${args.cancelOnExit ? ' and cancels it' : '; the run goes on'})`)
    const outcome = await followRemoteRun(client, runId, args, io, detach.signal, () => (ended = true))
    if (outcome.detached) {
      if (ended) io.stderr(`interrupted while reading the summary of run ${runId}, which has ended: taskweave show ${runId} --server ${client.url}`)
      else io.stderr(`detached from run ${runId}; it goes on on ${client.url}. Follow it again with: ${hint}`)
      return interruptedExitCode(interruptedBy ?? 'SIGINT')
    }
    return outcome.code
  } finally {
    stopListening()
  }
}

/**
 * No answer at all (a timeout, a reset): the server may have made the run. Any answer (a refusal,
 * an invalid workflow) means it did not, and a request that never reached it cannot have.
 */
function isUnanswered(error: unknown): boolean {
  const details = TaskweaveError.is(error) ? (error.details as { status?: unknown; unreached?: unknown } | undefined) : undefined
  return TaskweaveError.is(error) && error.code === 'TW_API' && details?.status === undefined && details?.unreached !== true
}

/** Pauses before the second and third tries of a start that had no answer. */
const START_RETRY_PAUSES_MS = [500, 1500]

/** A 409 that says to try again (`Retry-After`): the server is still handling this key's first request. */
function isInProgress(error: unknown): boolean {
  const details = TaskweaveError.is(error) ? (error.details as { status?: unknown; retryAfter?: unknown } | undefined) : undefined
  return details?.status === 409 && details.retryAfter !== undefined
}

/**
 * Starts the run, sending the request again (up to twice) when it had no answer, or when the
 * server said its first copy is still being handled, with the same `Idempotency-Key` (one per
 * command): the server answers a request it already acted on with the run it made rather than a
 * second run, while another command naming the same `--run-id` is still refused. Any other
 * refusal is not tried again.
 */
async function startWithRetries(client: ApiClient, body: StartRunBody, signal: AbortSignal): Promise<{ readonly id: string }> {
  const key = randomUUID()
  for (let tries = 0; ; tries++) {
    try {
      return await client.startRun(body, signal, key)
    } catch (error) {
      const pause = START_RETRY_PAUSES_MS[tries]
      if (pause === undefined || signal.aborted || !(isUnanswered(error) || isInProgress(error))) throw error
      await delay(pause, undefined, { signal }).catch(() => undefined)
      if (signal.aborted) throw error
    }
  }
}
