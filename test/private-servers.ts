/**
 * Broker servers of a test's own, on free ports, for faults that must not touch the shared ones
 * (a restart, a memory limit, a resource alarm): the shared servers on 127.0.0.1 serve every test
 * file at once.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Kills `child` at once, as a crash would, and waits for it to exit. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** A redis-server of the test's own, keeping nothing on disk, that the test can kill and start again on the same port. */
export class PrivateRedis {
  #process: ChildProcess | undefined

  private constructor(
    readonly port: number,
    readonly password: string,
    readonly settings: readonly string[],
  ) {}

  /** Starts one; `settings` are more `redis-server` arguments (`['--maxmemory', '32mb']`). The caller stops it. */
  static async start(settings: readonly string[] = []): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), `pw-${randomBytes(6).toString('hex')}`, settings)
    await server.start()
    return server
  }

  /** Its URL, with the password. */
  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', this.password, ...this.settings], { stdio: ['ignore', 'pipe', 'inherit'] })
    this.#process = child
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('redis-server was not ready within 10 s')), 10_000)
        const lines = createInterface({ input: child.stdout })
        lines.on('line', (line) => {
          if (line.includes('Ready to accept connections')) {
            clearTimeout(timer)
            resolve()
          }
        })
        child.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`redis-server exited with ${code ?? 'a signal'} before it was ready`))
        })
      })
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Kills the server at once, as a crash would. */
  async stop(): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined) return
    child.kill('SIGCONT')
    await kill(child)
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.#process?.kill('SIGSTOP')
  }

  /** Lets a paused server go on (SIGCONT). */
  resume(): void {
    this.#process?.kill('SIGCONT')
  }
}

/**
 * A RabbitMQ node of the test's own (its own name, ports and data directory; about 10 s to
 * start), for what acts on a whole node: resource alarms. `rabbitmqctl` reaches it by name.
 */
export class PrivateRabbit {
  #process: ChildProcess | undefined

  private constructor(
    readonly port: number,
    readonly node: string,
    readonly dir: string,
  ) {}

  /** Starts one and waits (up to 60 s) until it takes connections. The caller stops it. */
  static async start(): Promise<PrivateRabbit> {
    const dir = mkdtempSync(join(tmpdir(), 'tw-rabbit-'))
    const server = new PrivateRabbit(await freePort(), `twtest-${randomBytes(4).toString('hex')}@localhost`, dir)
    try {
      await server.#start()
    } catch (err) {
      await server.stop()
      throw err
    }
    return server
  }

  /** Its URL (guest may connect from loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`
  }

  /** Runs `rabbitmqctl <args>` against this node. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run('rabbitmqctl', ['-n', this.node, ...args], { timeout: 30_000 })
    return stdout
  }

  async #start(): Promise<void> {
    const distPort = await freePort()
    writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${this.port}\n`)
    writeFileSync(join(this.dir, 'plugins'), '[].\n')
    mkdirSync(join(this.dir, 'log'))
    // The server script runs the node as the rabbitmq user when started as root: it must own the directory.
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'rabbitmq']).catch(() => ({ stdout: '' }))
      const { stdout: gid } = await run('id', ['-g', 'rabbitmq']).catch(() => ({ stdout: '' }))
      if (stdout.trim() !== '') for (const path of [this.dir, join(this.dir, 'rabbitmq.conf'), join(this.dir, 'plugins'), join(this.dir, 'log')]) chownSync(path, Number(stdout), Number(gid))
    }
    const child = spawn('rabbitmq-server', [], {
      env: {
        ...process.env,
        RABBITMQ_NODENAME: this.node,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
        RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(this.dir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'plugins'),
        RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#process = child
    let said = ''
    child.stdout.on('data', (chunk: Buffer) => (said = (said + chunk.toString()).slice(-4000)))
    child.stderr.on('data', (chunk: Buffer) => (said = (said + chunk.toString()).slice(-4000)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the RabbitMQ node ${this.node} did not start within 60 s:\n${said}`)), 60_000)
      child.stdout.on('data', () => {
        if (said.includes('Starting broker... completed')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`the RabbitMQ node ${this.node} exited with ${code ?? 'a signal'} before it was ready:\n${said}`))
      })
    })
  }

  /** Stops the node and deletes its directory. */
  async stop(): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined) {
      rmSync(this.dir, { recursive: true, force: true })
      return
    }
    await this.ctl('stop').catch(() => undefined)
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
    }
    // The Erlang VM outlives the script that started it when the script is killed: stop said it all.
    await kill(child)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
