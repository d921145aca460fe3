import { describe, expect, it } from 'vitest'
import { ToolRegistry } from '../core/registry.js'
import { silentLogger } from '../core/logger.js'
import type { ToolContext } from '../core/tool.js'
import { builtinTools, createFsTools, createHttpTools } from './index.js'

const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }

describe('builtinTools', () => {
  it('registers all four tools', () => {
    expect(new ToolRegistry(builtinTools()).names()).toEqual(['fs.getInfo', 'fs.listDirectory', 'fs.readFile', 'http.fetch'])
  })

  it('roots the fs tools at the current directory by default', async () => {
    const [, , getInfo] = builtinTools()
    expect(await getInfo.run({ path: 'package.json' }, ctx)).toMatchObject({ exists: true, type: 'file' })
  })

  it('passes options through and checks them', () => {
    expect(() => builtinTools({ fs: { maxReadBytes: -1 } })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    expect(() => builtinTools({ http: { timeoutMs: 0 } })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    expect(() => createFsTools({ root: '' })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    expect(createHttpTools().map((tool) => tool.name)).toEqual(['http.fetch'])
  })
})
