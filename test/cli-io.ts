/** Captures what a CLI command writes, for in-process CLI tests. */
import type { CliIo } from '../src/cli/io.js'

export function captureIo(): CliIo & { out: string[]; err: string[]; text(): string } {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    stdout: (line) => void out.push(line),
    stderr: (line) => void err.push(line),
    isTTY: false,
    stdoutStream: process.stdout,
    text: () => [...out, ...err].join('\n'),
  }
}
