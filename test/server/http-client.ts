/** A raw HTTP client for the API tests: any method, path, Host and headers, a body sent as given. */
import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What came back. */
export interface RawResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly text: string
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown
}

/** Options of {@link send}. */
export interface SendOptions {
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  /** Sent as given; an object is sent as JSON with its Content-Type. */
  readonly body?: string | Buffer | object
  /** Chunks written one by one with chunked encoding (no Content-Length). */
  readonly chunks?: readonly Buffer[]
}

/** Sends one request to `127.0.0.1:port` on a connection of its own (a refused request may leave its connection closed) and reads the whole answer. */
export function send(port: number, path: string, options: SendOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...options.headers }
  let body: string | Buffer | undefined
  if (options.body !== undefined) {
    body = typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body)
    if (typeof options.body === 'object' && !Buffer.isBuffer(options.body)) headers['content-type'] ??= 'application/json'
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, setHost: false, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (part: Buffer) => parts.push(part))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk)
      req.end()
    } else req.end(body)
  })
}

/** One Server-Sent Event. */
export interface SseEvent {
  readonly id?: string
  readonly event: string
  readonly data: string
}

/** Opens an event stream and collects its events until the server ends it (or `stopWhen` says so). */
export function readEvents(port: number, path: string, headers: Readonly<Record<string, string>>, stopWhen?: (event: SseEvent) => boolean): Promise<{ status: number; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers }, setHost: false, agent: false }, (res) => {
      const events: SseEvent[] = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        buffer += text
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const colon = line.indexOf(':')
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart()
          }
          if (fields['data'] === undefined) continue
          const event: SseEvent = { ...(fields['id'] !== undefined ? { id: fields['id'] } : {}), event: fields['event'] ?? 'message', data: fields['data'] }
          events.push(event)
          if (stopWhen?.(event) === true) {
            req.destroy()
            resolve({ status: res.statusCode ?? 0, events })
          }
        }
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, events }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** An HTTP proxy to `target` that forwards every request and, when `drop()` says so, cuts the client's connection instead of passing the answer on. */
export async function droppingProxy(target: number, drop: (method: string, path: string) => boolean): Promise<{ readonly port: number; dropped: number; readonly close: () => Promise<void> }> {
  const state = { port: 0, dropped: 0, close: (): Promise<void> => Promise.resolve() }
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const headers: IncomingHttpHeaders = { ...req.headers, host: `127.0.0.1:${target}` }
      const upstream = httpRequest({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers, agent: false }, (answer) => {
        const body: Buffer[] = []
        answer.on('data', (part: Buffer) => body.push(part))
        answer.on('end', () => {
          if (drop(req.method ?? 'GET', req.url ?? '/')) {
            state.dropped++
            req.socket.destroy()
            return
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          res.end(Buffer.concat(body))
        })
      })
      upstream.end(Buffer.concat(parts))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  state.port = (server.address() as AddressInfo).port
  state.close = () => new Promise((resolve) => server.close(() => resolve()))
  return state
}
