/** Where the CLI writes, and its exit codes. Injected so tests can run commands in-process. @module */

/**
 * Exit codes: 0 the run succeeded, 1 it failed, was partial or cancelled, 2 the input was invalid,
 * 3 the run store cannot be used (corrupt, locked by another process, unreachable, full), 4 the
 * broker cannot be used, 5 the run is parked, 6 the server (`--server`) cannot be used
 * (unreachable, not answering in time, refusing the token). A command interrupted by a signal
 * exits with 128 + its number (130 for Ctrl-C).
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, store: 3, broker: 4, parked: 5, server: 6 } as const

/** Output channels of the CLI. */
export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  /** Whether stdout is an interactive terminal (live view) or not (one line per event). */
  readonly isTTY: boolean
  readonly stdoutStream: NodeJS.WriteStream
}

/**
 * A stream's writer that stops writing once the reader went away (`taskweave run … | head -1`):
 * Node reports a closed pipe as an `EPIPE` error event, which, unhandled, would end the process
 * mid-run and leave a durable run unfinished. The run goes on; only its output has nowhere to go.
 */
function writerTo(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    closed = true
  })
  return (text) => {
    if (!closed) stream.write(`${text}\n`)
  }
}

/** The process's own stdout and stderr. */
export const processIo: CliIo = {
  stdout: writerTo(process.stdout),
  stderr: writerTo(process.stderr),
  isTTY: process.stdout.isTTY === true,
  stdoutStream: process.stdout,
}
