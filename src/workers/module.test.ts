import { describe, expect, it } from 'vitest'
import { THREAD_ENTRY, loadsTsx, locateWorkerModule, threadExecArgv, tsxLoaderUrl } from './module.js'

describe('worker modules', () => {
  const ts = locateWorkerModule(new URL('../../examples/seeds/fixtures/cpu-work.ts', import.meta.url))

  it('locates file URLs and absolute paths and tells TypeScript apart', () => {
    expect(ts.isTypeScript).toBe(true)
    expect(locateWorkerModule(ts.filename)).toEqual(ts)
    expect(locateWorkerModule(`file://${ts.filename}`)).toEqual(ts)
  })

  it('recognises a process that already loads tsx', () => {
    expect(loadsTsx(['--require', '/x/node_modules/tsx/dist/preflight.cjs', '--import', 'file:///x/node_modules/tsx/dist/loader.mjs'])).toBe(true)
    expect(loadsTsx(['--import', 'tsx'])).toBe(true)
    expect(loadsTsx(['--import=tsx/esm'])).toBe(true)
    expect(loadsTsx(['--enable-source-maps', '--import', './tsxish-but-not.js'])).toBe(false)
  })

  it('adds tsx to the threads only when the module or the thread entry is TypeScript', () => {
    const js = { filename: '/app/work.js', isTypeScript: false }
    const compiledEntry = { filename: '/app/node_modules/taskweave/dist/workers/thread-entry.js', isTypeScript: false }
    const sourceEntry = { filename: '/repo/src/workers/thread-entry.ts', isTypeScript: true }
    const withTsx = ['--enable-source-maps', '--import', tsxLoaderUrl()]
    expect(threadExecArgv(js, undefined, ['--enable-source-maps'], compiledEntry)).toBeUndefined()
    expect(threadExecArgv(ts, undefined, ['--enable-source-maps'], compiledEntry)).toEqual(withTsx)
    expect(threadExecArgv(js, undefined, ['--enable-source-maps'], sourceEntry)).toEqual(withTsx)
    expect(threadExecArgv(ts, undefined, ['--import', 'tsx'], compiledEntry)).toBeUndefined()
    expect(threadExecArgv(ts, ['--no-warnings'], [], compiledEntry)).toEqual(['--no-warnings'])
    expect(tsxLoaderUrl()).toMatch(/^file:\/\/.*tsx/)
  })

  it('runs the thread entry from source here (the tests run taskweave uncompiled)', () => {
    expect(THREAD_ENTRY).toEqual({ filename: expect.stringMatching(/src[\\/]workers[\\/]thread-entry\.ts$/), isTypeScript: true })
  })
})

describe('tsx for TypeScript worker modules', () => {
  it('asks to install tsx when it cannot be resolved', () => {
    const missing = (): string => {
      throw Object.assign(new Error("Cannot find module 'tsx'"), { code: 'MODULE_NOT_FOUND' })
    }
    expect(() => tsxLoaderUrl(missing)).toThrow('a TypeScript worker module needs tsx, which is not installed: install it in your project (npm i -D tsx)')
  })
})
