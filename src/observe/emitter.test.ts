import { describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.js'
import type { LogFields, Logger } from '../core/logger.js'
import { EventEmitter } from './emitter.js'

describe('EventEmitter.wants', () => {
  it('notices a listener added after it answered "no", here or on a parent, and one removed again', () => {
    const engine = new EventEmitter()
    const run = new EventEmitter([engine])
    expect(run.wants('task:started')).toBe(false)
    expect(run.wants('task:started')).toBe(false) // the cached answer
    const off = engine.on('task:started', () => undefined)
    expect(run.wants('task:started')).toBe(true)
    expect(run.wants('task:failed')).toBe(false)
    off()
    expect(run.wants('task:started')).toBe(false)
    const offAny = run.onAny(() => undefined)
    expect(run.wants('task:failed')).toBe(true)
    expect(engine.wants('task:failed')).toBe(false)
    offAny()
    expect(run.wants('task:failed')).toBe(false)
  })
})

describe('EventEmitter listeners that fail', () => {
  const event = { type: 'task:ready', runId: 'r', taskId: 't', at: 0 } as const

  function recordingLogger(): Logger & { readonly lines: { message: string; fields: LogFields | undefined }[] } {
    const lines: { message: string; fields: LogFields | undefined }[] = []
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, fields) => void lines.push({ message, fields }), child: () => logger }
    return Object.assign(logger, { lines })
  }

  it('reports a rejected async listener through the logger, and still calls the other listeners', async () => {
    const logger = recordingLogger()
    const emitter = new EventEmitter([], logger)
    const seen: string[] = []
    emitter.on('task:ready', async () => {
      throw new Error('async listener bug')
    })
    emitter.once('task:ready', () => Promise.reject(new Error('once listener bug')))
    emitter.onAny((e) => void seen.push(e.type))
    expect(() => emitter.emit(event)).not.toThrow()
    expect(seen).toEqual(['task:ready'])
    await new Promise((resolve) => setImmediate(resolve))
    expect(logger.lines.map((l) => (l.fields?.['error'] as { message: string }).message).sort()).toEqual(['async listener bug', 'once listener bug'])
    expect(logger.lines[0]).toMatchObject({ message: 'an event listener failed', fields: { event: 'task:ready', runId: 'r' } })
  })

  it('reports a throwing listener, and a run emitter uses its parent\'s logger', () => {
    const logger = recordingLogger()
    const run = new EventEmitter([new EventEmitter([], logger)])
    run.on('task:ready', () => {
      throw new Error('sync listener bug')
    })
    run.emit(event)
    expect(logger.lines).toHaveLength(1)
  })

  it('survives a logger that throws', async () => {
    const logger: Logger = { ...silentLogger, error: () => { throw new Error('logger bug') } }
    const emitter = new EventEmitter([], logger)
    emitter.on('task:ready', () => Promise.reject(new Error('x')))
    emitter.on('task:ready', () => {
      throw new Error('y')
    })
    expect(() => emitter.emit(event)).not.toThrow()
    await new Promise((resolve) => setImmediate(resolve))
  })
})
