/**
 * Leaving the process once the CLI has answered. After the summary nothing the run started matters
 * any more, yet a tool that ignored its abort signal (a timed-out call holding a 20 s timer, a
 * socket left open) would keep Node's event loop, and so the command, alive until it finishes.
 * The CLI therefore exits explicitly, after what it wrote has reached stdout and stderr: a write
 * to a pipe may still be queued when `write()` returns, and `process.exit` would drop it.
 * @module
 */

/** Resolves when everything written to `stream` so far has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve()
    else stream.write('', () => resolve())
  })
}

/** Sets the exit code and exits once stdout and stderr are flushed. */
export async function exitWhenFlushed(code: number): Promise<never> {
  process.exitCode = code
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  process.exit(code)
}
