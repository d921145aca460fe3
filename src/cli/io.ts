/** Where the CLI writes, and its exit codes. Injected so tests can run commands in-process. @module */

/**
 * Exit codes: 0 the run succeeded, 1 it failed, was partial or cancelled, 2 the input was invalid,
 * 3 the run store cannot be used (corrupt, locked by another process, unreachable, full).
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, store: 3, broker: 4 } as const

/** Output channels of the CLI. */
export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  /** Whether stdout is an interactive terminal (live view) or not (one line per event). */
  readonly isTTY: boolean
  readonly stdoutStream: NodeJS.WriteStream
}

/** The process's own stdout and stderr. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  isTTY: process.stdout.isTTY === true,
  stdoutStream: process.stdout,
}
