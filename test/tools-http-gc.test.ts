/**
 * `http.fetch`'s `timeoutMs` must hold across garbage collections: the timer was once only
 * weakly held (`AbortSignal.any` over `AbortSignal.timeout`), so a collection during a slow body
 * read lost it and a server dripping one byte every 200 ms held the call forever. A real child
 * process, because only `--expose-gc` lets the test force collections, and a hang must be killed.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

// Runs in the child: a slow-drip server on loopback, a collection every 100 ms, one call with a 1 s timeout.
const child = `
const { createServer } = await import('node:http')
const { createHttpTools } = await import(process.argv[1])
const { silentLogger } = await import(process.argv[2])
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  const drip = setInterval(() => res.write('.'), 200)
  res.on('close', () => clearInterval(drip))
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address()
setInterval(() => globalThis.gc(), 100)
const [tool] = createHttpTools({ allowHosts: ['127.0.0.1:' + port], timeoutMs: 1000 })
const ctx = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }
const started = performance.now()
const outcome = await Promise.resolve(tool.run(tool.input.parse({ url: 'http://127.0.0.1:' + port + '/drip' }), ctx)).then(() => 'resolved', (err) => err.code)
process.stdout.write(JSON.stringify({ outcome, ms: Math.round(performance.now() - started) }))
process.exit(0)
`

function runChild(limitMs: number): Promise<{ stdout: string; killed: boolean }> {
  const proc = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', child, join(root, 'src/tools/http/index.ts'), join(root, 'src/core/logger.ts')],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let stdout = ''
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  let killed = false
  const guard = setTimeout(() => {
    killed = true
    proc.kill('SIGKILL')
  }, limitMs)
  return new Promise((resolve) => {
    proc.once('exit', () => {
      clearTimeout(guard)
      resolve({ stdout, killed })
    })
  })
}

describe('http.fetch timeout under garbage collection', () => {
  it('times out a dripping body after timeoutMs even with a forced GC every 100 ms', async () => {
    const { stdout, killed } = await runChild(15_000)
    expect(killed).toBe(false)
    const result = JSON.parse(stdout) as { outcome: string; ms: number }
    expect(result.outcome).toBe('TW_TIMEOUT')
    expect(result.ms).toBeLessThan(5000)
  })
})
