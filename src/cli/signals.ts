/**
 * Stopping `taskweave run` from outside. Ctrl-C (SIGINT), SIGTERM (what systemd, `docker stop` and
 * CI timeouts send) and SIGHUP (the terminal went away) all mean the same: cancel the run, which
 * aborts every running tool's signal, and let the command print its summary and exit as a
 * cancelled run does. A second signal means "now": the process exits at once with 128 + the
 * signal's number, as a shell reports a process killed by it.
 * @module
 */
import { constants } from 'node:os'

/** The signals that cancel a run. */
export const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * Listens for {@link CANCEL_SIGNALS}: the first aborts `controller` with
 * `interrupted (<signal>)`, the next exits the process. Returns the function that stops listening.
 */
export function cancelOnSignals(controller: AbortController, say: (text: string) => void, doing = 'cancelling the run'): () => void {
  return onInterrupt((signal) => {
    const again = signal === 'SIGINT' ? 'press Ctrl-C again' : `send ${signal} again`
    say(`\n${signal === 'SIGINT' ? '' : `${signal} received: `}${doing} (${again} to quit at once)…`)
    controller.abort(new Error(`interrupted (${signal})`))
  })
}

/**
 * Calls `first` on the first of {@link CANCEL_SIGNALS}; the next one exits the process at once
 * with 128 + its number. Returns the function that stops listening.
 */
export function onInterrupt(first: (signal: NodeJS.Signals) => void): () => void {
  let received = 0
  const listener = (signal: NodeJS.Signals): void => {
    received++
    if (received > 1) process.exit(interruptedExitCode(signal))
    first(signal)
  }
  for (const signal of CANCEL_SIGNALS) process.on(signal, listener)
  return () => {
    for (const signal of CANCEL_SIGNALS) process.off(signal, listener)
  }
}

/** The exit code of a process stopped by `signal`, as a shell reports it: 128 + its number (130 for Ctrl-C). */
export function interruptedExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}
