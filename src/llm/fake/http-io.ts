/** Reading request bodies and writing JSON answers with `node:http`. @module */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

/** The largest request body read; a larger one is answered 413 instead of filling memory. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

/** A body read in full, or why not. */
export type BodyResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: 'too-large' | 'aborted' }

/** Reads the request body as UTF-8, up to {@link MAX_BODY_BYTES}. */
export function readBody(req: IncomingMessage): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        resolve({ ok: false, reason: 'too-large' })
        // Stop buffering; the rest of the body is read and dropped so the 413 can still be sent.
        req.removeAllListeners('data')
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') }))
    req.on('error', () => resolve({ ok: false, reason: 'aborted' }))
    req.on('close', () => resolve({ ok: false, reason: 'aborted' }))
  })
}

/** Request headers as plain strings (a repeated header's values joined with `, `). */
export function plainHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  return headers
}

/** Sends `body` as JSON with `status` and `headers`, unless the client is gone. */
export function sendJson(res: ServerResponse, status: number, body: object, headers: Readonly<Record<string, string>> = {}): void {
  if (res.destroyed || res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * Waits `ms`, or less if `signal` aborts (the client went away or the server is closing);
 * resolves true if the whole wait passed. The timer is cleared on abort, so an abandoned
 * request leaves none behind.
 */
export async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  if (ms <= 0) return true
  try {
    await sleep(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}
