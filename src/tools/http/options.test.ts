import { describe, expect, it } from 'vitest'
import { parseAllowedHost, resolveHttpToolOptions } from './options.js'

describe('resolveHttpToolOptions', () => {
  it('applies the defaults', () => {
    expect(resolveHttpToolOptions()).toMatchObject({ allowPrivateNetwork: false, allowHosts: [], maxResponseBytes: 1024 * 1024, timeoutMs: 30_000, maxRedirects: 5 })
  })

  it.each([
    [{ timeoutMs: 0 }, 'http.timeoutMs'],
    [{ timeoutMs: 1.5 }, 'http.timeoutMs'],
    [{ maxRedirects: -1 }, 'http.maxRedirects'],
    [{ maxResponseBytes: Number.NaN }, 'http.maxResponseBytes'],
    [{ allowHosts: ['http://x/'] }, 'http.allowHosts[0]'],
    [{ allowHosts: ['x:70000'] }, 'http.allowHosts[0]'],
    [{ allowHosts: ['user@x'] }, 'http.allowHosts[0]'],
  ])('refuses %j naming %s', (options, option) => {
    expect(() => resolveHttpToolOptions(options as never)).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', details: expect.objectContaining({ option }) }))
  })
})

describe('parseAllowedHost', () => {
  it.each([
    ['example.com', { hostname: 'example.com' }],
    ['Example.COM.', { hostname: 'example.com' }],
    ['example.com:80', { hostname: 'example.com', port: 80 }],
    ['127.0.0.1:8080', { hostname: '127.0.0.1', port: 8080 }],
    ['2130706433', { hostname: '127.0.0.1' }],
    ['::1', { hostname: '[::1]' }],
    ['[::1]:8080', { hostname: '[::1]', port: 8080 }],
    ['[0:0:0:0:0:ffff:7f00:1]', { hostname: '[::ffff:7f00:1]' }],
  ])('%s', (entry, expected) => {
    expect(parseAllowedHost(entry)).toEqual(expected)
  })
})
