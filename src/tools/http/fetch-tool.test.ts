import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createEngine } from '../../engine/engine.js'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSecureContext } from 'node:tls'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { TaskweaveError } from '../../core/errors.js'
import { silentLogger } from '../../core/logger.js'
import type { ToolContext } from '../../core/tool.js'
import { createHttpTools, type HttpToolOptions, type ResolvedAddress } from './index.js'

// RELIABILITY TL-02. Only loopback servers exist here; every other address must be refused
// before a connection is attempted, and the injected resolver keeps real DNS out of it.

const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }

let canaryHits = 0
let canary: Server
let canary6: Server | undefined
let external: Server
let P1 = 0
let P2 = 0
const lookups: string[] = []
const seenHosts: string[] = []

const fakeDns: Record<string, readonly ResolvedAddress[]> = {
  'canary.test': [{ address: '127.0.0.1', family: 4 }],
  'localhost.test': [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }],
  'pinned.test': [{ address: '127.0.0.1', family: 4 }],
  // A loopback and a public answer: the loopback one alone must refuse the host. (Loopback
  // first: were the guard broken, the connection would land on the canary, never go out.)
  'mixed.test': [{ address: '127.0.0.1', family: 4 }, { address: '93.184.216.34', family: 4 }],
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
}
async function lookup(hostname: string): Promise<readonly ResolvedAddress[]> {
  lookups.push(hostname)
  const found = fakeDns[hostname]
  if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
  return found
}

function externalRoutes(req: IncomingMessage, res: ServerResponse): void {
  seenHosts.push(req.headers.host ?? '')
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const redirect = (status: number, location: string): void => {
    res.writeHead(status, { location }).end()
  }
  switch (path) {
    case '/text': return void res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-test': 'yes' }).end('héllo')
    case '/json': return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"items":[1,2]}')
    case '/not-json': return void res.writeHead(200).end('<html>')
    case '/redirect-canary': return redirect(302, `http://127.0.0.1:${P1}/`)
    case '/redirect-canary-name': return redirect(302, `http://canary.test:${P1}/`)
    case '/redirect-pinned-other-port': return redirect(302, `http://pinned.test:${P1}/`)
    case '/redirect-file': return redirect(302, 'file:///etc/passwd')
    case '/proto-headers': {
      // Header names that are also Object.prototype properties.
      for (const name of ['constructor', '__proto__', 'tostring']) res.setHeader(name, `${name}-value`)
      res.setHeader('x-twice', ['one', 'two'])
      return void res.writeHead(200).end()
    }
    case '/redirect-text': return redirect(301, '/text')
    case '/redirect-echo-303': return redirect(303, '/echo')
    case '/redirect-echo-307': return redirect(307, '/echo')
    case '/redirect-other-origin': return redirect(307, `http://pinned.test:${P2}/echo`)
    case '/loop': return redirect(302, '/loop')
    case '/big': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const chunk = Buffer.alloc(64 * 1024, 97)
      for (let i = 0; i < 32; i++) res.write(chunk)
      return void res.end()
    }
    case '/big-declared': return void res.writeHead(200, { 'content-length': String(5 * 1024 * 1024) }).end(Buffer.alloc(5 * 1024 * 1024))
    case '/gzip-bomb': return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(20 * 1024 * 1024)))
    case '/503': return void res.writeHead(503, { 'retry-after': '7' }).end('overloaded')
    case '/429': return void res.writeHead(429, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end()
    case '/500': return void res.writeHead(500).end()
    case '/404': return void res.writeHead(404).end('no such thing')
    case '/slow':
      res.writeHead(200, { 'content-type': 'text/plain' })
      return void res.write('partial…') // and never ends
    case '/slow-500':
      res.writeHead(500, { 'content-type': 'text/plain' })
      return void res.write('partial…') // and never ends
    case '/204': return void res.writeHead(204).end()
    case '/quotes': return void res.writeHead(200, { 'content-type': 'text/plain' }).end('"'.repeat(900 * 1024))
    case '/echo': {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() }))
      })
      return
    }
    default: return void res.writeHead(404).end()
  }
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}
function close(server: Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve()
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

beforeAll(async () => {
  const countHit = (_req: IncomingMessage, res: ServerResponse) => {
    canaryHits++
    res.end('canary')
  }
  canary = createServer(countHit)
  P1 = await listen(canary, '127.0.0.1')
  // The same port on IPv6 loopback, when the host has it, so [::1] attempts would be counted too.
  canary6 = createServer(countHit)
  await listen(canary6, '::1', P1).catch(() => {
    canary6 = undefined
  })
  external = createServer(externalRoutes)
  P2 = await listen(external, '127.0.0.1')
})
afterAll(async () => {
  await Promise.all([close(canary), close(canary6), close(external)])
})
beforeEach(() => {
  lookups.length = 0
  seenHosts.length = 0
})

function fetchTool(options: HttpToolOptions = {}) {
  const [tool] = createHttpTools({ allowHosts: [`127.0.0.1:${P2}`, `pinned.test:${P2}`], lookup, ...options })
  return (input: z.input<typeof tool.input>, context: ToolContext = ctx) => Promise.resolve(tool.run(tool.input.parse(input), context))
}

async function failure(promise: Promise<unknown>): Promise<TaskweaveError> {
  const outcome = await promise.then((value) => ({ value }), (error: unknown) => ({ error }))
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`)
  expect(TaskweaveError.is(outcome.error)).toBe(true)
  return outcome.error as TaskweaveError
}

describe('http.fetch SSRF guard (TL-02)', () => {
  const refused = (): Array<[string, string]> => [
    ['loopback', `http://127.0.0.1:${P1}/`],
    ['loopback elsewhere in 127/8', `http://127.1.2.3:${P1}/`],
    ['IPv6 loopback', `http://[::1]:${P1}/`],
    ['the decimal spelling of 127.0.0.1', `http://2130706433:${P1}/`],
    ['the hex spelling of 127.0.0.1', `http://0x7f000001:${P1}/`],
    ['the octal spelling of 127.0.0.1', `http://017700000001:${P1}/`],
    ['the unspecified address', `http://0.0.0.0:${P1}/`],
    ['the IPv6 unspecified address', `http://[::]:${P1}/`],
    ['IPv4-mapped IPv6 loopback', `http://[::ffff:127.0.0.1]:${P1}/`],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['10/8', 'http://10.0.0.1/'],
    ['172.16/12', 'http://172.16.5.4/'],
    ['192.168/16', 'http://192.168.1.1/'],
    ['CGNAT 100.64/10', 'http://100.64.0.1/'],
    ['IPv6 unique-local', 'http://[fd00::1]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['multicast', 'http://224.0.0.1/'],
    ['file:', 'file:///etc/passwd'],
    ['data:', 'data:,x'],
    ['gopher:', 'gopher://x/'],
    ['ftp:', 'ftp://example.com/'],
    ['a port other than the allowlisted one on an allowlisted address', `http://127.0.0.1:${P1}/`],
  ]

  it('refuses every private, special and non-http target before any lookup or connection', async () => {
    const tool = fetchTool()
    for (const [label, url] of refused()) {
      const started = Date.now()
      const error = await failure(tool({ url }))
      expect({ label, code: error.code, retryable: error.retryable }).toEqual({ label, code: 'TW_HTTP_DENIED', retryable: false })
      expect(Date.now() - started).toBeLessThan(500)
    }
    expect(lookups).toEqual([])
    expect(canaryHits).toBe(0)
  })

  it('refuses a host name that resolves to loopback, and leaves the canary alone', async () => {
    const error = await failure(fetchTool()({ url: `http://canary.test:${P1}/` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_DENIED', details: { address: '127.0.0.1', range: 'loopback' } })
    expect(error.message).toMatch(/canary\.test resolves to 127\.0\.0\.1/)
    expect(lookups).toEqual(['canary.test'])
    expect(canaryHits).toBe(0)
  })

  it('refuses a host name when any one of its addresses is private', async () => {
    await expect(fetchTool()({ url: `http://mixed.test:${P1}/` })).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
    await expect(fetchTool()({ url: `http://metadata.test/` })).rejects.toMatchObject({ code: 'TW_HTTP_DENIED', details: { range: 'linkLocal' } })
    expect(canaryHits).toBe(0)
  })

  it('refuses localhost through the real system resolver', async () => {
    const [tool] = createHttpTools()
    await expect(Promise.resolve(tool.run(tool.input.parse({ url: `http://localhost:${P1}/` }), ctx))).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
    expect(canaryHits).toBe(0)
  })

  it('re-validates every redirect hop: an allowlisted server redirecting to the canary is refused', async () => {
    const tool = fetchTool()
    for (const path of ['/redirect-canary', '/redirect-canary-name', '/redirect-pinned-other-port', '/redirect-file']) {
      const error = await failure(tool({ url: `http://127.0.0.1:${P2}${path}` }))
      expect({ path, code: error.code }).toEqual({ path, code: 'TW_HTTP_DENIED' })
    }
    expect(seenHosts).toHaveLength(4) // the allowlisted server was reached every time
    expect(canaryHits).toBe(0)
  })

  it('connects to exactly the address it validated, resolving each host once', async () => {
    // pinned.test exists only in the injected resolver, so reaching the server proves the
    // connection used the validated answer rather than a second, independent lookup.
    const output = await fetchTool()({ url: `http://pinned.test:${P2}/text` })
    expect(output).toMatchObject({ status: 200, body: 'héllo' })
    expect(lookups).toEqual(['pinned.test'])
    expect(seenHosts).toEqual([`pinned.test:${P2}`])
  })

  it.skipIf(!hasOpenssl())('keeps the host name for TLS (SNI, certificate check) while connecting to the pinned address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-tls-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=other.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
      const credentials = { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }
      const servernames: string[] = []
      const server = createHttpsServer({ ...credentials, SNICallback: (name, done) => { servernames.push(name); done(null, createSecureContext(credentials)) } }, (_req, res) => res.end('tls'))
      const port = await listen(server, '127.0.0.1')
      try {
        // The certificate is self-signed for another name, so the handshake must fail: proof that
        // verification ran against the URL's host name even though the socket went to 127.0.0.1.
        const error = await failure(fetchTool({ allowHosts: [`pinned.test:${port}`] })({ url: `https://pinned.test:${port}/` }))
        expect(error.code).not.toBe('TW_HTTP_DENIED')
        expect(servernames).toEqual(['pinned.test'])
      } finally {
        await close(server)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('reaches private addresses only when allowPrivateNetwork is set', async () => {
    const before = canaryHits
    const output = await fetchTool({ allowPrivateNetwork: true })({ url: `http://127.0.0.1:${P1}/` })
    expect(output).toMatchObject({ status: 200, body: 'canary' })
    canaryHits = before // this hit was asked for; keep the counter meaning "unwanted hits"
  })
})

describe('http.fetch', () => {
  it('returns status, headers and text', async () => {
    expect(await fetchTool()({ url: `http://127.0.0.1:${P2}/text` })).toEqual({
      url: `http://127.0.0.1:${P2}/text`,
      status: 200,
      headers: expect.objectContaining({ 'content-type': 'text/plain; charset=utf-8', 'x-test': 'yes' }),
      body: 'héllo',
    })
  })

  it('returns headers named after Object.prototype properties as they were sent', async () => {
    const { headers } = await fetchTool()({ url: `http://127.0.0.1:${P2}/proto-headers` })
    for (const name of ['constructor', '__proto__', 'tostring']) {
      expect(Object.getOwnPropertyDescriptor(headers, name)?.value).toBe(`${name}-value`)
    }
    expect(headers['x-twice']).toBe('one, two')
    expect(Object.getPrototypeOf(headers)).toBe(null)
  })

  it('parses JSON when asked, and fails clearly when the body is not JSON', async () => {
    expect(await fetchTool()({ url: `http://127.0.0.1:${P2}/json`, responseType: 'json' })).toMatchObject({ body: { ok: true, items: [1, 2] } })
    await expect(fetchTool()({ url: `http://127.0.0.1:${P2}/not-json`, responseType: 'json' })).rejects.toMatchObject({ code: 'TW_TOOL_FAILED', retryable: false })
  })

  it('sends method, headers and body', async () => {
    const { body } = await fetchTool()({ url: `http://127.0.0.1:${P2}/echo`, method: 'POST', headers: { 'x-token': 'abc', 'content-type': 'text/plain' }, body: 'payload', responseType: 'json' })
    expect(body).toMatchObject({ method: 'POST', headers: { 'x-token': 'abc' }, body: 'payload' })
  })

  it('follows allowed redirects and reports the final URL', async () => {
    expect(await fetchTool()({ url: `http://127.0.0.1:${P2}/redirect-text` })).toMatchObject({ url: `http://127.0.0.1:${P2}/text`, body: 'héllo' })
  })

  it('turns POST into GET on 303 and keeps it on 307', async () => {
    const post = { method: 'POST' as const, body: 'x', responseType: 'json' as const }
    expect((await fetchTool()({ url: `http://127.0.0.1:${P2}/redirect-echo-303`, ...post })).body).toMatchObject({ method: 'GET', body: '' })
    expect((await fetchTool()({ url: `http://127.0.0.1:${P2}/redirect-echo-307`, ...post })).body).toMatchObject({ method: 'POST', body: 'x' })
  })

  it('drops credentials when a redirect leaves the origin', async () => {
    const { body } = await fetchTool()({ url: `http://127.0.0.1:${P2}/redirect-other-origin`, headers: { authorization: 'Bearer s3cret', 'x-keep': '1' }, responseType: 'json' })
    expect(body).toMatchObject({ headers: { host: `pinned.test:${P2}`, 'x-keep': '1' } })
    expect((body as { headers: Record<string, string> }).headers['authorization']).toBeUndefined()
  })

  it('stops after maxRedirects', async () => {
    const error = await failure(fetchTool({ maxRedirects: 3 })({ url: `http://127.0.0.1:${P2}/loop` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_DENIED', retryable: false, details: { maxRedirects: 3 } })
    expect(seenHosts).toHaveLength(4)
  })

  it.each(['/big', '/big-declared', '/gzip-bomb'])('caps the response size (%s)', async (path) => {
    const error = await failure(fetchTool()({ url: `http://127.0.0.1:${P2}${path}` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_TOO_LARGE', retryable: false, details: { limit: 1024 * 1024 } })
  })

  it('honours a smaller maxResponseBytes', async () => {
    await expect(fetchTool({ maxResponseBytes: 3 })({ url: `http://127.0.0.1:${P2}/text` })).rejects.toMatchObject({ code: 'TW_HTTP_TOO_LARGE' })
  })

  it('makes 503 a retryable TW_HTTP_STATUS carrying Retry-After', async () => {
    const error = await failure(fetchTool()({ url: `http://127.0.0.1:${P2}/503` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_STATUS', retryable: true, details: { status: 503, retryAfterMs: 7000, body: 'overloaded' } })
  })

  it('makes 429 retryable, reading a Retry-After date', async () => {
    const error = await failure(fetchTool()({ url: `http://127.0.0.1:${P2}/429` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_STATUS', retryable: true, details: { status: 429 } })
    expect(error.details['retryAfterMs']).toBeGreaterThan(50_000)
    expect(await failure(fetchTool()({ url: `http://127.0.0.1:${P2}/500` }))).toMatchObject({ retryable: true, details: { status: 500 } })
  })

  it('makes 404 a non-retryable TW_HTTP_STATUS', async () => {
    const error = await failure(fetchTool()({ url: `http://127.0.0.1:${P2}/404` }))
    expect(error).toMatchObject({ code: 'TW_HTTP_STATUS', retryable: false, details: { status: 404 } })
  })

  it('aborts a slow response when the task signal is aborted', async () => {
    const controller = new AbortController()
    const reason = new Error('cancelled by the test')
    setTimeout(() => controller.abort(reason), 100)
    const started = Date.now()
    await expect(fetchTool()({ url: `http://127.0.0.1:${P2}/slow` }, { ...ctx, signal: controller.signal })).rejects.toBe(reason)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('times out with TW_TIMEOUT while it reads an error body that stalls, not with the status', async () => {
    await expect(fetchTool({ timeoutMs: 150 })({ url: `http://127.0.0.1:${P2}/slow-500` })).rejects.toMatchObject({ code: 'TW_TIMEOUT' })
  })

  it("gives '' as the body of a HEAD and of a 204 with responseType json, as for text", async () => {
    await expect(fetchTool()({ url: `http://127.0.0.1:${P2}/json`, method: 'HEAD', responseType: 'json' })).resolves.toMatchObject({ status: 200, body: '' })
    await expect(fetchTool()({ url: `http://127.0.0.1:${P2}/204`, responseType: 'json' })).resolves.toMatchObject({ status: 204, body: '' })
  })

  it('returns a body within maxResponseBytes through the engine, whatever JSON escaping makes of it', async () => {
    const engine = createEngine({ builtins: { http: { allowHosts: [`127.0.0.1:${P2}`], lookup } } })
    const result = await engine.run({ id: 'big', tasks: [{ id: 'q', tool: 'http.fetch', input: { url: `http://127.0.0.1:${P2}/quotes` } }] })
    expect(result.tasks['q']?.error).toBeUndefined()
    expect((result.tasks['q']?.output as { body: string }).body).toHaveLength(900 * 1024)
    await engine.close()
  })

  it('times out a slow response with TW_TIMEOUT', async () => {
    const started = Date.now()
    await expect(fetchTool({ timeoutMs: 150 })({ url: `http://127.0.0.1:${P2}/slow` })).rejects.toMatchObject({ code: 'TW_TIMEOUT', retryable: true, details: { timeoutMs: 150 } })
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('keeps the system error code of a network failure', async () => {
    const closed = createServer()
    const port = await listen(closed, '127.0.0.1')
    await close(closed)
    const error = await failure(fetchTool({ allowHosts: [`127.0.0.1:${port}`] })({ url: `http://127.0.0.1:${port}/` }))
    expect(error).toMatchObject({ code: 'ECONNREFUSED', retryable: true, cause: { code: 'ECONNREFUSED' } })
    // The real cause, not undici's "fetch failed".
    expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`)
    expect(error.message).not.toContain('fetch failed')
  })

  it('names a DNS failure in the message and the cause', async () => {
    const error = await failure(fetchTool({ allowHosts: ['nowhere.test'] })({ url: 'http://nowhere.test/' }))
    expect(error).toMatchObject({ code: 'ENOTFOUND', cause: { code: 'ENOTFOUND' } })
    expect(error.message).toContain('ENOTFOUND nowhere.test')
  })

  it('names a TLS failure and does not retry it', async () => {
    // TLS spoken to a plain HTTP server.
    const error = await failure(fetchTool()({ url: `https://127.0.0.1:${P2}/text` }))
    expect(error).toMatchObject({ code: expect.stringMatching(/^ERR_SSL_/) as unknown, retryable: false, cause: { code: error.code } })
    expect(error.message).not.toContain('fetch failed')
  })

  it('refuses a port the fetch standard blocks with TW_HTTP_DENIED', async () => {
    const error = await failure(fetchTool({ allowHosts: ['127.0.0.1:9'] })({ url: 'http://127.0.0.1:9/' }))
    expect(error).toMatchObject({ code: 'TW_HTTP_DENIED', retryable: false })
    expect(error.message).toContain('port')
  })

  it('rejects a body on GET and reserved headers at input validation', () => {
    const [tool] = createHttpTools()
    expect(tool.input.safeParse({ url: 'http://x/', body: 'b' }).success).toBe(false)
    expect(tool.input.safeParse({ url: 'http://x/', headers: { Host: 'internal' } }).success).toBe(false)
    expect(tool.input.safeParse({ url: 'http://x/', headers: { 'x-a': 'b\r\nInjected: 1' } }).success).toBe(false)
  })
})
