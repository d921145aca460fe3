/**
 * Reading a workflow file without trusting the path. The path is opened once and everything else
 * is asked of the open descriptor: `fstat` says whether it is a regular file (a directory, a FIFO,
 * `/dev/zero`, a socket or a process-substitution pipe is refused at once: reading them hangs,
 * never ends or fails with a raw `EISDIR`), and at most `maxBytes + 1` bytes are read, so a file
 * that grows after the check, or a `/proc` file whose size reads 0, cannot exceed the limit.
 * The open is non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
 * @module
 */
import { describeFileKind } from '../core/file-kind.js'
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { ValidationError } from '../core/errors.js'

/** Reads at most `maxBytes` of a regular file; throws {@link ValidationError} naming the file otherwise. */
export async function readRegularFile(file: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  let handle: FileHandle
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw refused(file, `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw refused(file, `not a regular file (${describeFileKind(stats)}); give the path of a YAML or JSON workflow file`)
    if (stats.size > maxBytes) throw tooLarge(file, `is ${stats.size} bytes`, maxBytes)
    // One byte over the limit is enough to know it is too large. A `/proc` file says 0 bytes and
    // holds more: the buffer grows, up to the cap.
    let buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(stats.size + 1, 64 * 1024)))
    let length = 0
    for (;;) {
      signal?.throwIfAborted()
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge(file, `holds more than ${maxBytes} bytes`, maxBytes)
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, buffer.length * 2))
        buffer.copy(bigger, 0, 0, length)
        buffer = bigger
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) return buffer.subarray(0, length)
      length += bytesRead
    }
  } finally {
    await handle.close()
  }
}

function tooLarge(file: string, what: string, maxBytes: number): ValidationError {
  return refused(file, `the file ${what}; the limit is ${maxBytes}`)
}

function refused(file: string, message: string): ValidationError {
  return new ValidationError([{ file, message }])
}
