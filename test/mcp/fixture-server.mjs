// An MCP server for the tests of `taskweave/mcp`, built with the SDK: over stdio by default, over
// Streamable HTTP (stateless, on a random port it prints) with `--http`. `MCP_LOG` names a file
// it appends what it heard to (one JSON line per event), so a test can see cancellations.
import { randomUUID } from 'node:crypto'
import { appendFileSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'

const log = (event) => {
  if (process.env.MCP_LOG) appendFileSync(process.env.MCP_LOG, `${JSON.stringify({ pid: process.pid, ...event })}\n`)
}

function makeServer() {
  const server = new McpServer({ name: 'fixture tools', version: '1.2.3' })
  server.registerTool(
    'add',
    { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number().int().min(0) }, outputSchema: { sum: z.number() }, annotations: { readOnlyHint: true } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  )
  server.registerTool('echo', { description: 'Says it back.', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }, { type: 'text', text: 'done' }] }))
  server.registerTool('fail', { description: 'Always fails.', inputSchema: {} }, async () => ({ isError: true, content: [{ type: 'text', text: 'the upstream API said no' }] }))
  server.registerTool('pay', { description: 'Moves money.', inputSchema: { cents: z.number() }, annotations: { destructiveHint: true, idempotentHint: false } }, async ({ cents }) => ({ content: [{ type: 'text', text: `paid ${cents}` }] }))
  server.registerTool('whoami', { description: 'The process serving.', inputSchema: {} }, async () => ({ content: [{ type: 'text', text: JSON.stringify({ pid: process.pid }) }], structuredContent: { pid: process.pid } }))
  server.registerTool('crash', { description: 'Ends the server process.', inputSchema: {} }, async () => {
    log({ event: 'crash' })
    setImmediate(() => process.exit(3))
    return new Promise(() => {})
  })
  server.registerTool(
    'slow',
    { description: 'Takes its time, telling how far it got.', inputSchema: { steps: z.number().int().min(1), stepMs: z.number().int().min(1) } },
    async ({ steps, stepMs }, extra) => {
      log({ event: 'slow-start' })
      for (let i = 1; i <= steps; i++) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, stepMs)
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer)
            log({ event: 'cancelled', reason: String(extra.signal.reason) })
            reject(new Error('cancelled'))
          }, { once: true })
        })
        const token = extra._meta?.progressToken
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i} of ${steps}` } })
      }
      return { content: [{ type: 'text', text: `slept ${steps} steps` }] }
    },
  )
  server.registerTool('note', { description: 'Creates a note (each call another).', inputSchema: { text: z.string() }, annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false } }, async ({ text }) => ({ content: [{ type: 'text', text: `noted ${text}` }] }))
  server.registerTool('sleep', { description: 'Waits, saying nothing until it answers.', inputSchema: { ms: z.number().int().min(0) } }, async ({ ms }) => {
    log({ event: 'sleep-start' })
    await new Promise((resolve) => setTimeout(resolve, ms))
    return { content: [{ type: 'text', text: `slept ${ms} ms` }] }
  })
  server.registerTool('image', { description: 'A picture.', inputSchema: {} }, async () => ({ content: [{ type: 'image', data: 'aGk=', mimeType: 'image/png' }] }))
  return server
}

/** Stateful Streamable HTTP: a transport per session; `POST /drop` forgets every session (as a restarted server would). */
function statefulHttp() {
  const sessions = new Map()
  const http = createServer(async (req, res) => {
    if (req.url === '/drop') {
      for (const transport of sessions.values()) void transport.close()
      sessions.clear()
      log({ event: 'dropped' })
      res.writeHead(204).end()
      return
    }
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
    const id = req.headers['mcp-session-id']
    let transport = typeof id === 'string' ? sessions.get(id) : undefined
    if (transport === undefined) {
      if (typeof id === 'string' || body?.method !== 'initialize') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }))
        return
      }
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport) })
      await makeServer().connect(transport)
      log({ event: 'session' })
    }
    await transport.handleRequest(req, res, body)
  })
  http.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${http.address().port}\n`))
}

// A server slow to start: MCP_SLOW_START names a file holding how many ms to wait first (read at start).
if (process.env.MCP_SLOW_START) {
  let ms = 0
  try {
    ms = Number(readFileSync(process.env.MCP_SLOW_START, 'utf8'))
  } catch {
    ms = 0
  }
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
}

if (process.argv.includes('--stateful')) statefulHttp()
else if (process.argv.includes('--http')) {
  // Stateless: a server and a transport per request, as the SDK's stateless example does.
  const http = createServer(async (req, res) => {
    if (process.env.MCP_TOKEN && req.headers.authorization !== `Bearer ${process.env.MCP_TOKEN}`) {
      res.writeHead(401).end('no')
      return
    }
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
    const server = makeServer()
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  })
  http.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${http.address().port}\n`))
} else {
  log({ event: 'start' })
  await makeServer().connect(new StdioServerTransport())
}
