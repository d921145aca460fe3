import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../../core/errors.js'
import { addressRange, createAddressGuard, isPublicAddress } from './address-guard.js'
import { resolveHttpToolOptions, type HttpToolOptions, type ResolvedAddress } from './options.js'

// Pure checks: nothing here opens a socket.
const guard = (options: HttpToolOptions = {}, answers: Record<string, readonly ResolvedAddress[]> = {}) => {
  const asked: string[] = []
  const lookup = async (hostname: string) => {
    asked.push(hostname)
    return answers[hostname] ?? []
  }
  return { asked, guard: createAddressGuard(resolveHttpToolOptions({ ...options, lookup })) }
}

function deniedReason(fn: () => void): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    expect(TaskweaveError.is(err, 'TW_HTTP_DENIED')).toBe(true)
    return String((err as TaskweaveError).details['reason'])
  }
}

describe('addressRange / isPublicAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.251', 'multicast'],
    ['192.0.2.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['fc00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['ff02::1', 'multicast'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
  ])('%s is %s, not public', (address, range) => {
    expect(addressRange(address)).toBe(range)
    expect(isPublicAddress(address)).toBe(false)
  })

  it('accepts public unicast addresses, bracketed or not', () => {
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700::1111', '[2606:4700::1111]']) expect(isPublicAddress(address)).toBe(true)
  })

  it('treats a non-IP as not public', () => {
    expect(addressRange('example.com')).toBeUndefined()
    expect(isPublicAddress('example.com')).toBe(false)
  })
})

describe('AddressGuard.checkUrl', () => {
  it('refuses other schemes', () => {
    const { guard: g } = guard()
    for (const url of ['file:///etc/passwd', 'data:,x', 'gopher://x/', 'ftp://x/', 'ws://x/', 'javascript:alert(1)']) {
      expect(deniedReason(() => g.checkUrl(new URL(url)))).toMatch(/scheme/)
    }
  })

  it('refuses non-public IP literals in every spelling the URL parser normalises', () => {
    const { guard: g, asked } = guard()
    for (const url of ['http://2130706433/', 'http://0x7f000001/', 'http://017700000001/', 'http://0x7f.1/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://0/']) {
      expect(deniedReason(() => g.checkUrl(new URL(url)))).toMatch(/not a public one/)
    }
    expect(asked).toEqual([])
  })

  it('refuses a URL with credentials, without showing them', () => {
    const { guard: g } = guard()
    for (const url of ['https://deploy:hunter2secret@example.com/private', 'https://token@example.com/']) {
      let message = ''
      try {
        g.checkUrl(new URL(url))
      } catch (err) {
        message = (err as Error).message
      }
      expect(message).toMatch(/credentials/)
      expect(message).not.toContain('hunter2secret')
      expect(message).not.toContain('token@')
    }
  })

  it('lets host names and public literals through to the connector', () => {
    const { guard: g } = guard()
    expect(() => g.checkUrl(new URL('https://example.com/'))).not.toThrow()
    expect(() => g.checkUrl(new URL('http://8.8.8.8/'))).not.toThrow()
  })

  it('exempts allowlisted hosts, port-specific entries only on their port', () => {
    const { guard: g } = guard({ allowHosts: ['127.0.0.1:8080', '[::1]', 'LocalHost.'] })
    expect(() => g.checkUrl(new URL('http://127.0.0.1:8080/'))).not.toThrow()
    expect(deniedReason(() => g.checkUrl(new URL('http://127.0.0.1:8081/')))).toBeDefined()
    expect(deniedReason(() => g.checkUrl(new URL('http://127.0.0.1/')))).toBeDefined()
    expect(() => g.checkUrl(new URL('http://[::1]:9999/'))).not.toThrow()
  })

  it('exempts everything with allowPrivateNetwork, but still only http(s)', () => {
    const { guard: g } = guard({ allowPrivateNetwork: true })
    expect(() => g.checkUrl(new URL('http://10.0.0.1/'))).not.toThrow()
    expect(deniedReason(() => g.checkUrl(new URL('file:///etc/passwd')))).toMatch(/scheme/)
  })
})

describe('AddressGuard.resolve', () => {
  it('returns every address of a public host', async () => {
    const answers = { 'example.test': [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800::1', family: 6 }] } as const
    const { guard: g } = guard({}, answers)
    expect(await g.resolve('example.test', 443)).toEqual(answers['example.test'])
  })

  it('refuses a host when any address is not public', async () => {
    const { guard: g } = guard({}, { 'rebind.test': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }] })
    await expect(g.resolve('rebind.test', 80)).rejects.toMatchObject({ code: 'TW_HTTP_DENIED', details: { address: '10.0.0.5', range: 'private' } })
  })

  it('checks IP literals without a lookup, with or without brackets', async () => {
    const { guard: g, asked } = guard()
    await expect(g.resolve('::1', 80)).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
    await expect(g.resolve('[::1]', 80)).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
    expect(await g.resolve('8.8.8.8', 80)).toEqual([{ address: '8.8.8.8', family: 4 }])
    expect(asked).toEqual([])
  })

  it('lets an allowlisted host resolve privately, only on its port', async () => {
    const { guard: g } = guard({ allowHosts: ['svc.internal:8443'] }, { 'svc.internal': [{ address: '10.0.0.7', family: 4 }] })
    expect(await g.resolve('svc.internal', 8443)).toEqual([{ address: '10.0.0.7', family: 4 }])
    await expect(g.resolve('svc.internal', 443)).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
  })

  it('refuses resolver answers that are not IP addresses, and fails on an empty answer', async () => {
    const { guard: g } = guard({}, { 'odd.test': [{ address: 'not-an-ip', family: 4 }] })
    await expect(g.resolve('odd.test', 80)).rejects.toMatchObject({ code: 'TW_HTTP_DENIED' })
    await expect(g.resolve('empty.test', 80)).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })
})
