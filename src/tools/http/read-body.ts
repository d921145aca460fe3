/** Reading response bodies with a byte cap enforced while streaming, and decoding them. @module */
import type { ReadableStreamDefaultReader } from 'node:stream/web'
import type { Response } from 'undici'
import { httpTooLarge } from './errors.js'

/**
 * Reads the whole body, failing with `TW_HTTP_TOO_LARGE` as soon as more than `limit` bytes
 * arrive. The cap counts decoded bytes (undici decompresses), so a gzip bomb stops at the limit.
 */
export async function readCappedBody(response: Response, url: URL, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  const encoding = response.headers.get('content-encoding')
  // An honest Content-Length over the limit fails before any byte is read. (With a content
  // coding it counts compressed bytes, so only the streamed count can be trusted.)
  if ((encoding === null || encoding === 'identity') && Number.isSafeInteger(declared) && declared > limit) {
    await discard(response)
    throw httpTooLarge(url, limit, declared)
  }
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = bytesReader(response)
  if (reader === undefined) return new Uint8Array(0)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limit) {
        await reader.cancel().catch(() => undefined)
        throw httpTooLarge(url, limit, total)
      }
      chunks.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  return concat(chunks, total)
}

/**
 * Reads at most `max` bytes of a body (for error details), then drops the rest. Never throws,
 * but for `signal`'s abort (the call's deadline or its cancel), which must not pass for a body
 * that could not be read.
 */
export async function readBodyPrefix(response: Response, max: number, signal?: AbortSignal): Promise<Uint8Array> {
  const reader = bytesReader(response)
  if (reader === undefined) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    while (total < max) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      total += value.byteLength
    }
  } catch (err) {
    if (signal?.aborted === true) throw err
    // Best effort: an error body that cannot be read is simply left out.
  } finally {
    await reader.cancel().catch(() => undefined)
    reader.releaseLock()
  }
  return concat(chunks, Math.min(total, max)).subarray(0, max)
}

/** Drops a body without reading it, releasing the connection. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined)
}

/** Decodes text with the charset named in `Content-Type`, falling back to UTF-8 for unknown or missing ones. */
export function decodeText(bytes: Uint8Array, contentType: string | null): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]
  if (charset !== undefined) {
    try {
      return new TextDecoder(charset).decode(bytes)
    } catch {
      // Unknown label: fall through to UTF-8.
    }
  }
  return new TextDecoder('utf-8').decode(bytes)
}

/** A reader of the body's bytes: undici types the stream loosely, but its chunks are always Uint8Array. */
function bytesReader(response: Response): ReadableStreamDefaultReader<Uint8Array> | undefined {
  return response.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.byteLength, total - offset))
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
