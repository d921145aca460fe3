import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, pinoLogger } from 'taskweave'

/** A pino logger writing JSON lines into `lines`. */
function capturedPino(level: string): { readonly logger: ReturnType<typeof pino>; readonly lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level }, sink), lines }
}

describe('pinoLogger', () => {
  it('writes the engine\'s and its tools\' lines through pino: message as msg, fields as fields, child bindings, pino\'s level filter', async () => {
    const { logger, lines } = capturedPino('info')
    const noisy = defineTool({
      name: 'test.noisy',
      input: z.object({}),
      run: (_input, ctx) => {
        ctx.logger.debug('not shown', { detail: 1 })
        ctx.logger.info('fetched page', { bytes: 512 })
        ctx.logger.warn('slow answer', { ms: 900 })
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, tools: [noisy], logger: pinoLogger(logger) })
    const result = await engine.run({ id: 'logs', tasks: [{ id: 'fetch', tool: 'test.noisy' }] })
    expect(result.status).toBe('succeeded')
    const fromTool = lines.filter((line) => line['msg'] === 'fetched page' || line['msg'] === 'slow answer' || line['msg'] === 'not shown')
    expect(fromTool.map((line) => [line['level'], line['msg']])).toEqual([
      [30, 'fetched page'],
      [40, 'slow answer'],
    ])
    expect(fromTool[0]).toMatchObject({ bytes: 512, runId: result.runId, taskId: 'fetch' })
  })

  it('maps every level and nests children', () => {
    const { logger, lines } = capturedPino('debug')
    const log = pinoLogger(logger).child({ component: 'a' }).child({ part: 'b' })
    log.debug('d')
    log.info('i', { n: 1 })
    log.warn('w')
    log.error('e', { code: 'X' })
    expect(lines.map((line) => [line['level'], line['msg'], line['component'], line['part']])).toEqual([
      [20, 'd', 'a', 'b'],
      [30, 'i', 'a', 'b'],
      [40, 'w', 'a', 'b'],
      [50, 'e', 'a', 'b'],
    ])
    expect(lines[1]?.['n']).toBe(1)
    expect(lines[3]?.['code']).toBe('X')
  })
})
