/**
 * Real processes for the distributed tests: `taskweave worker` children (the built CLI, as users
 * run it), the ledger the fixture tools write, and private broker servers that a test may kill and
 * start again without disturbing the shared ones other test files use.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { defineAgent } from 'taskweave'
import { binPath, root } from '../cli-bin.js'
import { freePort } from '../private-servers.js'
export { freePort }

/** The shared brokers of this machine (CI starts them). */
export const BROKERS = [
  { type: 'redis', url: 'redis://127.0.0.1:6379' },
  { type: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' },
] as const

export const FIXTURE_TOOLS = join(root, 'test/distributed/fixture-tools.mjs')

/** One line of the ledger the fixture tools write. */
export interface LedgerLine {
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
  readonly attemptId: string
  readonly pid: number
  readonly phase: 'start' | 'end' | 'poison' | 'abort'
  readonly at: number
  /** With `abort`: the code of the signal's reason. */
  readonly code?: string
}

/** Reads the ledger (missing: empty). */
export function readLedger(file: string): LedgerLine[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LedgerLine)
}

/** A `taskweave worker` child process. */
export interface WorkerChild {
  readonly child: ChildProcess
  readonly id: string
  /** Everything it wrote to stderr. */
  stderr(): string
  /** Resolves with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts a worker on `url`; resolves once it says it consumes. */
export async function startWorkerChild(options: {
  readonly url: string
  readonly prefix: string
  readonly id: string
  readonly ledger: string
  readonly concurrency?: number
  readonly lease?: string
  readonly maxDeliveries?: number
  readonly queues?: string
  readonly extraEnv?: Record<string, string>
  /** Resolve even if it exits before it says it is ready (a worker a poison attempt kills at once). */
  readonly mayDie?: boolean
  /** More flags (`--port 0`…). */
  readonly extraArgs?: readonly string[]
  /** False: return once it is spawned, without waiting for it to say it is ready. */
  readonly wait?: boolean
}): Promise<WorkerChild> {
  const args = [binPath, 'worker', '--transport', options.url, '--prefix', options.prefix, '--id', options.id, '--tools', FIXTURE_TOOLS, '--concurrency', String(options.concurrency ?? 8), '--grace', '2s']
  if (options.lease !== undefined) args.push('--lease', options.lease)
  if (options.maxDeliveries !== undefined) args.push('--max-deliveries', String(options.maxDeliveries))
  if (options.queues !== undefined) args.push('--queues', options.queues)
  args.push(...(options.extraArgs ?? []))
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, TW_LEDGER: options.ledger, ...options.extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdout.resume()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (): void => {
      if (stderr.includes(`worker ${options.id} on`)) resolve()
    }
    child.stderr.on('data', onData)
    void exited.then(({ code, signal }) => (options.mayDie === true ? resolve() : reject(new Error(`worker ${options.id} exited before it was ready (code ${String(code)}, signal ${String(signal)}):\n${stderr}`))))
  })
  if (options.wait !== false) await Promise.race([ready, delay(20_000).then(() => Promise.reject(new Error(`worker ${options.id} not ready after 20 s:\n${stderr}`)))])
  else ready.catch(() => undefined)
  return { child, id: options.id, stderr: () => stderr, exited }
}

/** Stops a worker child: SIGTERM (a drain), then SIGKILL if it has not exited after `ms`. */
export async function stopWorkerChild(worker: WorkerChild, ms = 10_000): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return
  worker.child.kill('SIGTERM')
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), ms)
  await worker.exited
  clearTimeout(timer)
}

async function waitForPort(port: number, up: boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket()
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
      socket.connect(port, '127.0.0.1')
    })
    if (open === up) return
    if (Date.now() > until) throw new Error(`port ${port} did not ${up ? 'open' : 'close'} within ${ms} ms`)
    await delay(100)
  }
}

/** A broker server of this test's own, that it may stop and start again on the same port. */
export interface PrivateBroker {
  readonly url: string
  start(): Promise<void>
  stop(): Promise<void>
  /** Kills the server process with SIGKILL, as a crash would (RabbitMQ: its Erlang VM, beam.smp). */
  crash(): Promise<void>
  /** Stops it and removes its files. */
  dispose(): Promise<void>
}

/** A private redis-server (keeps nothing on disk, like the shared one: a restart loses every key). */
export async function privateRedis(): Promise<PrivateBroker> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const broker: PrivateBroker = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      await waitForPort(port, true, 10_000)
    },
    async stop() {
      if (child === undefined) return
      const exited = new Promise((resolve) => child?.once('close', resolve))
      child.kill('SIGKILL')
      await exited
      child = undefined
      await waitForPort(port, false, 10_000)
    },
    crash: () => broker.stop(),
    dispose: () => broker.stop(),
  }
  await broker.start()
  return broker
}

/**
 * A private RabbitMQ node (its own name, port and data directory; durable queues survive its
 * restart). Starting one takes a few seconds.
 */
export async function privateRabbit(): Promise<PrivateBroker> {
  const port = await freePort()
  const distPort = await freePort()
  const name = `twtest${port}@localhost`
  const dir = join('/tmp', `tw-rabbit-${port}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'log'), { recursive: true })
  mkdirSync(join(dir, 'mnesia'), { recursive: true })
  writeFileSync(join(dir, 'plugins'), '[].\n')
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`)
  // The server drops to the rabbitmq user: it must own its directory.
  await new Promise((resolve) => spawn('chown', ['-R', 'rabbitmq:rabbitmq', dir], { stdio: 'ignore' }).on('close', resolve))
  const env = {
    ...process.env,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_NODENAME: name,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'plugins'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
  }
  let child: ChildProcess | undefined
  const broker: PrivateBroker = {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    async start() {
      child = spawn('rabbitmq-server', [], { env, stdio: 'ignore' })
      await waitForPort(port, true, 60_000)
    },
    async stop() {
      if (child === undefined) return
      await new Promise((resolve) => spawn('rabbitmqctl', ['-n', name, 'stop'], { env, stdio: 'ignore' }).on('close', resolve))
      await waitForPort(port, false, 30_000)
      child = undefined
    },
    async crash() {
      if (child === undefined) return
      // The VM's own pid: the script that started it is not the broker.
      const said = await new Promise<string>((resolve) => {
        let out = ''
        const ctl = spawn('rabbitmqctl', ['-n', name, 'eval', 'os:getpid().'], { env, stdio: ['ignore', 'pipe', 'ignore'] })
        ctl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
        ctl.on('close', () => resolve(out))
      })
      const pid = Number(/"(\d+)"/.exec(said)?.[1])
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`the RabbitMQ node ${name} did not say its pid: ${said}`)
      process.kill(pid, 'SIGKILL')
      await waitForPort(port, false, 30_000)
      child = undefined
    },
    async dispose() {
      await broker.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await broker.start()
  return broker
}


export { removeBrokerLeftovers } from '../queues/broker-kit.js'

/**
 * An agent `chat` whose executions sleep `input.ms` (a turn run again: 20 ms) and note
 * `<turn>@<worker>` in `runs` as they start; aborting stops the sleep.
 */
export function turnAgent(worker: string, runs: string[]) {
  return defineAgent({
    name: 'chat',
    input: z.object({ turn: z.string(), ms: z.number() }),
    create: () => ({ worker }),
    execute: async (instance, { turn, ms }, ctx) => {
      const wait = runs.some((r) => r.startsWith(`${turn}@`)) ? 20 : ms
      runs.push(`${turn}@${instance.worker}`)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, wait)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(ctx.signal.reason)
        })
      })
      return { worker: instance.worker }
    },
  })
}
