/**
 * The worker's HTTP side: `/healthz` (the process answers: always 200, its body `ok` or
 * `degraded: <why>` while the broker cannot be reached or blocks publishing — restarting the
 * process would not help, the worker recovers by itself), `/readyz` (200 only while it takes
 * attempts: 503 `degraded: <why>` during a broker outage, `draining` once it closes) and
 * `/metrics` in Prometheus text: the worker's own figures and the depth of every work queue, so an
 * autoscaler can add workers when attempts wait.
 * @module
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Transport } from '../core/transport.js'
import { within } from '../core/within.js'
import type { Worker, WorkerHealth } from '../distributed/worker.js'

/** A running health and metrics server. */
export interface WorkerServer {
  readonly port: number
  close(): Promise<void>
}

/** Starts the server on `host:port` (port 0: any free one). */
export async function startWorkerServer(worker: Worker, transport: Transport, port: number, host = '0.0.0.0'): Promise<WorkerServer> {
  const metrics = await workerMetrics(worker, transport)
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/healthz') {
      const health = worker.health()
      res.writeHead(200, { 'content-type': 'text/plain' }).end(health.status === 'degraded' ? `${describeHealth(health)}\n` : 'ok\n')
      return
    }
    if (path === '/readyz') {
      const health = worker.health()
      res.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'text/plain' }).end(health.status === 'ok' ? 'ready\n' : `${describeHealth(health)}\n`)
      return
    }
    if (path === '/metrics') {
      metrics
        .text()
        .then((body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body))
        .catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`))
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // A probe's keep-alive connection would hold the close for its idle timeout.
        server.closeIdleConnections()
      }),
  }
}

/** Longest a scrape waits for the queue depths. */
const STATS_WAIT_MS = 1500
const NO_STATS = { queues: [] } as const

/** Whether the worker's broker connection answers, whatever the worker's own state (starting, draining). */
function brokerUp(worker: Worker, transport: Transport): boolean {
  const health = worker.health()
  if (health.status === 'degraded') return false
  return transport.health?.().ok ?? true
}

/** `degraded: <problem> (since <ISO time>)`, `draining` or `starting`. */
function describeHealth(health: WorkerHealth): string {
  if (health.status !== 'degraded') return health.status
  return `degraded: ${health.problem ?? 'the broker cannot be reached'}${health.since === undefined ? '' : ` (since ${new Date(health.since).toISOString()})`}`
}

/** The Prometheus registry of a worker: its figures and the transport's queue depths, read at each scrape. */
async function workerMetrics(worker: Worker, transport: Transport): Promise<{ readonly contentType: string; text(): Promise<string> }> {
  // prom-client loads only when a worker serves metrics.
  const { Registry, Gauge } = await import('prom-client')
  const registry = new Registry()
  const labels = { worker: worker.id }
  registry.setDefaultLabels(labels)
  const stat = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  }
  stat('taskweave_worker_concurrency', 'Most attempts this worker runs at once.', () => worker.stats().concurrency)
  stat('taskweave_worker_running', 'Attempts this worker runs now.', () => worker.stats().running)
  stat('taskweave_worker_completed_total', 'Attempts this worker ran to a success.', () => worker.stats().completed)
  stat('taskweave_worker_failed_total', 'Attempts this worker ran to a failure.', () => worker.stats().failed)
  stat('taskweave_worker_returned_total', 'Attempts this worker gave back to the broker unreported.', () => worker.stats().returned)
  stat('taskweave_worker_ready', '1 while the worker takes attempts, 0 while it drains.', () => (worker.ready() ? 1 : 0))
  stat('taskweave_worker_broker_up', '1 while the worker reaches its broker and may publish, 0 while it cannot (an outage, a hung server, a resource alarm).', () => (brokerUp(worker, transport) ? 1 : 0))
  const depth = new Gauge({ name: 'taskweave_queue_attempts', help: 'Attempts in each work queue, by state (waiting, active, delayed, dead).', labelNames: ['queue', 'state'], registers: [registry] })
  return {
    contentType: registry.contentType,
    async text() {
      // The broker may be down or hung: the worker's own figures are served all the same, at
      // once, without depths (a scrape has its own timeout, often 10 s).
      const stats = brokerUp(worker, transport) ? await within(transport.stats(), STATS_WAIT_MS, () => new Error('no answer')).catch(() => NO_STATS) : NO_STATS
      depth.reset()
      for (const q of stats.queues) {
        depth.set({ queue: q.queue, state: 'waiting' }, q.waiting)
        depth.set({ queue: q.queue, state: 'active' }, q.active)
        depth.set({ queue: q.queue, state: 'delayed' }, q.delayed)
        depth.set({ queue: q.queue, state: 'dead' }, q.dead)
      }
      return registry.metrics()
    },
  }
}
