/** Errors of the HTTP tool and the URL redaction their messages use. @module */
import { TaskweaveError } from '../../core/errors.js'

const MAX_URL_CHARS = 300

/** A URL fit for messages and logs: credentials replaced, length capped. */
export function redactUrl(url: URL | string): string {
  let text: string
  try {
    const copy = new URL(url)
    if (copy.username !== '' || copy.password !== '') {
      copy.username = 'redacted'
      copy.password = ''
    }
    text = copy.href
  } catch {
    text = String(url)
  }
  return text.length > MAX_URL_CHARS ? `${text.slice(0, MAX_URL_CHARS)}…` : text
}

/** `TW_HTTP_DENIED`: the request was refused before (or instead of) being sent; never retryable. */
export function httpDenied(url: URL | string, reason: string, details: Readonly<Record<string, unknown>> = {}): TaskweaveError {
  const shown = redactUrl(url)
  return new TaskweaveError('TW_HTTP_DENIED', `http.fetch refused ${shown}: ${reason}`, {
    retryable: false,
    details: { url: shown, reason, ...details },
  })
}

/** `TW_HTTP_TOO_LARGE`: the response body exceeded `maxResponseBytes`; retrying would get the same body. */
export function httpTooLarge(url: URL | string, limit: number, size: number): TaskweaveError {
  const shown = redactUrl(url)
  return new TaskweaveError('TW_HTTP_TOO_LARGE', `response of ${shown} is over the limit of ${limit} bytes (${size} bytes or more)`, {
    retryable: false,
    details: { url: shown, limit, size },
  })
}

/**
 * `TW_HTTP_STATUS`: the server answered with an error status. Retryable for 429 and 5xx (with
 * `retryAfterMs` when the server sent `Retry-After`), not for other 4xx.
 */
export function httpStatusError(url: URL | string, status: number, options: { retryAfterMs?: number; bodySnippet?: string } = {}): TaskweaveError {
  const shown = redactUrl(url)
  const retryable = status === 429 || status >= 500
  return new TaskweaveError('TW_HTTP_STATUS', `${shown} answered HTTP ${status}`, {
    retryable,
    details: {
      url: shown,
      status,
      ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      ...(options.bodySnippet ? { body: options.bodySnippet } : {}),
    },
  })
}
