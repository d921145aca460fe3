import { afterEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_RABBITMQ_URL, DEFAULT_REDIS_URL, createMessageQueue, createTransport, messageQueueOptionsFromEnv } from './index.js'
import type { QueueType } from './index.js'

// The adapters are mocked by their path from the project root: that names them whether or not
// their files exist yet, and keeps these tests off a real broker once they do.
const redis = vi.hoisted(() => ({
  openRedisQueue: vi.fn(async (options: object) => ({ type: 'redis', options })),
  openRedisTransport: vi.fn(async (options: object) => ({ type: 'redis', options })),
}))
vi.mock('/src/queues/redis/index.js', () => redis)
vi.mock('/src/queues/rabbitmq/index.js', () => {
  throw new Error("Cannot find package 'amqplib'")
})

afterEach(() => {
  vi.clearAllMocks()
})

/** The error `fn` throws. */
function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error('expected a throw')
}

describe('messageQueueOptionsFromEnv', () => {
  it('defaults to the memory queue, with no URL and no size limit', () => {
    expect(messageQueueOptionsFromEnv({})).toEqual({ type: 'memory' })
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: '  ', MAX_QUEUE_SIZE: '' })).toEqual({ type: 'memory' })
  })

  it('reads the type (any case, trimmed), the URL of its broker and the size limit', () => {
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'redis' })).toEqual({ type: 'redis', url: DEFAULT_REDIS_URL })
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: ' RabbitMQ ', MAX_QUEUE_SIZE: '500' })).toEqual({ type: 'rabbitmq', url: DEFAULT_RABBITMQ_URL, maxSize: 500 })
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'redis', REDIS_URL: 'rediss://user:pw@cache:6380/2', RABBITMQ_URL: 'amqp://elsewhere' })).toEqual({ type: 'redis', url: 'rediss://user:pw@cache:6380/2' })
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'rabbitmq', RABBITMQ_URL: 'amqps://mq.internal/vhost' })).toEqual({ type: 'rabbitmq', url: 'amqps://mq.internal/vhost' })
    expect(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'memory', REDIS_URL: 'redis://ignored', MAX_QUEUE_SIZE: '10000' })).toEqual({ type: 'memory', maxSize: 10_000 })
  })

  it('refuses an unknown type with TW_INVALID_OPTION naming the variable and the value', () => {
    const err = thrown(() => messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'kafka' }))
    expect(err.code).toBe('TW_INVALID_OPTION')
    expect(err.message).toBe('environment variable MESSAGE_QUEUE_TYPE must be memory, redis or rabbitmq; received "kafka"')
  })

  it.each(['0', '-1', '1.5', 'abc', '1e3', '99999999999999999999'])('refuses MAX_QUEUE_SIZE=%s', (value) => {
    const err = thrown(() => messageQueueOptionsFromEnv({ MAX_QUEUE_SIZE: value }))
    expect(err.code).toBe('TW_INVALID_OPTION')
    expect(err.message).toBe(`environment variable MAX_QUEUE_SIZE must be a positive integer; received "${value}"`)
  })

  it('refuses a URL of the wrong scheme, or no URL, without echoing it (it may hold a password)', () => {
    const wrong = thrown(() => messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'redis', REDIS_URL: 'http://user:secret@cache:6379' }))
    expect(wrong.code).toBe('TW_INVALID_OPTION')
    expect(wrong.message).toBe('environment variable REDIS_URL must be a redis:// or rediss:// URL; received a http:// URL')
    const none = thrown(() => messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'rabbitmq', RABBITMQ_URL: 'secret-host:5672 oops' }))
    expect(none.code).toBe('TW_INVALID_OPTION')
    expect(none.message).toBe('environment variable RABBITMQ_URL must be an amqp:// or amqps:// URL; received a value that is not a URL')
    expect(none.message).not.toContain('secret')
  })
})

describe('createMessageQueue', () => {
  it('opens a memory queue (ignoring a URL) with the options given', async () => {
    const queue = await createMessageQueue<{ n: number }>({ type: 'memory', url: 'redis://unused', name: 'factory-memory', maxSize: 1 })
    try {
      expect(queue.type).toBe('memory')
      expect(queue.name).toBe('factory-memory')
      await queue.enqueue({ n: 1 })
      await expect(queue.enqueue({ n: 2 })).rejects.toMatchObject({ code: 'TW_QUEUE_FULL' })
    } finally {
      await queue.destroy()
    }
  })

  it('passes the URL and the queue options to the redis adapter, and no URL when none was given', async () => {
    const queue = await createMessageQueue({ type: 'redis', url: 'redis://cache:6379', name: 'jobs', maxSize: 5, retry: { maxDeliveries: 2 } })
    expect(queue).toEqual({ type: 'redis', options: { url: 'redis://cache:6379', name: 'jobs', maxSize: 5, retry: { maxDeliveries: 2 } } })
    await createMessageQueue({ type: 'redis', name: 'jobs' })
    expect(redis.openRedisQueue).toHaveBeenLastCalledWith({ name: 'jobs' })
  })

  it('refuses an unknown type with TW_INVALID_OPTION', async () => {
    await expect(createMessageQueue({ type: 'kafka' as QueueType, name: 'jobs' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: 'option "type" must be memory, redis or rabbitmq; received "kafka"' })
  })

  it('says which adapter could not be loaded, and why, with TW_QUEUE', async () => {
    const err = await createMessageQueue({ type: 'rabbitmq', name: 'jobs' }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string; cause?: unknown },
    )
    expect(err?.code).toBe('TW_QUEUE')
    expect(err?.message).toMatch(/^the rabbitmq queue adapter could not be loaded \(it needs amqplib installed\): \S/)
    expect(err?.cause).toBeInstanceOf(Error)
  })

  it('checks the memory queue options', async () => {
    await expect(createMessageQueue({ type: 'memory', name: 'has spaces' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })
})

describe('createTransport', () => {
  it('opens a memory transport on the default broker: two of them see the same queues', async () => {
    const owner = await createTransport({ type: 'memory' })
    const worker = await createTransport({ type: 'memory', url: 'ignored' })
    try {
      expect(owner.type).toBe('memory')
      const heard: string[] = []
      await worker.consume(
        async (d) => {
          heard.push(d.envelope.request.attemptId)
          await d.ack()
        },
        { worker: 'factory-worker', queues: ['factory-q'], concurrency: 1 },
      )
      await owner.publish([{ request: { runId: 'r', taskId: 't', attempt: 1, attemptId: 'r/t#1', idempotencyKey: 'r/t', tool: 'noop', input: null, inputChecked: true, timeoutMs: undefined, priority: 0 }, owner: 'o', queue: 'factory-q', publishedAt: 0 }])
      await vi.waitFor(() => expect(heard).toEqual(['r/t#1']))
    } finally {
      await owner.close()
      await worker.close()
    }
  })

  it('passes the URL to the redis adapter, refuses unknown types and says when an adapter cannot load', async () => {
    await expect(createTransport({ type: 'redis', url: 'redis://cache' })).resolves.toEqual({ type: 'redis', options: { url: 'redis://cache' } })
    await expect(createTransport({ type: 'nats' as QueueType })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(createTransport({ type: 'rabbitmq' })).rejects.toMatchObject({ code: 'TW_QUEUE' })
  })

  it('accepts what messageQueueOptionsFromEnv read', async () => {
    await createTransport(messageQueueOptionsFromEnv({ MESSAGE_QUEUE_TYPE: 'redis', MAX_QUEUE_SIZE: '3' }))
    expect(redis.openRedisTransport).toHaveBeenLastCalledWith({ url: DEFAULT_REDIS_URL })
  })
})
